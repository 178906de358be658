//! Who may impose a sanction (pejabat yang berwenang menghukum, PP 94/2021 Bab IV): by the
//! offender's position and the level of the sanction.
//!
//! The default table is the one PP 94/2021 gives a kabupaten/kota:
//!
//! | position | ringan | sedang | berat |
//! |---|---|---|---|
//! | JPT pratama | PPK | PPK | PPK |
//! | JF ahli utama | PPK | PPK | PPK (dismissal: Presiden) |
//! | administrator | kepala OPD (JPT pratama, one level up) | PPK | PPK |
//! | pengawas | pejabat administrator (one level up) | kepala OPD (two levels up) | PPK |
//! | pelaksana | pejabat pengawas (one level up) | pejabat administrator (two levels up) | PPK |
//! | JF ahli madya, ahli muda | kepala OPD | kepala OPD | PPK |
//! | JF ahli pertama, keterampilan | pejabat administrator | pejabat administrator | PPK |
//!
//! For functional positions other than ahli utama the regulation lets both the JPT pratama
//! and the administrator of the unit impose ringan and sedang; the table names the kepala
//! OPD for the grades level with an administrator. Delegations differ by Perwal, so a city
//! replaces any cell with `SIDAK_COMPETENT_OFFICIALS`. When the official named does not
//! exist in a unit, the power passes to the official above (PP 94/2021).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::discipline::{Level, Sanction, SanctionCode};
use super::reference::{JfGrade, PositionKind};
use super::vocab::vocabulary;

vocabulary!(
    /// The offender's position as the competence table reads it: the kind of position, and
    /// for a functional position its grade.
    Post {
        Jpt => "jpt" ["Jabatan Pimpinan Tinggi", "Senior executive post"],
        Administrator => "administrator" ["Administrator", "Administrator"],
        Pengawas => "pengawas" ["Pengawas", "Supervisor post"],
        Pelaksana => "pelaksana" ["Pelaksana", "Staff"],
        AhliUtama => "ahli_utama" ["Fungsional Ahli Utama", "Functional, principal expert"],
        AhliMadya => "ahli_madya" ["Fungsional Ahli Madya", "Functional, senior expert"],
        AhliMuda => "ahli_muda" ["Fungsional Ahli Muda", "Functional, expert"],
        AhliPertama => "ahli_pertama" ["Fungsional Ahli Pertama", "Functional, junior expert"],
        Penyelia => "penyelia" ["Fungsional Penyelia", "Functional, supervisor grade"],
        Mahir => "mahir" ["Fungsional Mahir", "Functional, advanced"],
        Terampil => "terampil" ["Fungsional Terampil", "Functional, skilled"],
        Pemula => "pemula" ["Fungsional Pemula", "Functional, beginner"],
    }
);

impl Post {
    /// The post of a placement; `None` for a functional position without its grade.
    pub fn of(kind: PositionKind, grade: Option<JfGrade>) -> Option<Post> {
        use JfGrade as G;
        Some(match kind {
            PositionKind::Jpt => Post::Jpt,
            PositionKind::Administrator => Post::Administrator,
            PositionKind::Pengawas => Post::Pengawas,
            PositionKind::Pelaksana => Post::Pelaksana,
            PositionKind::Fungsional => match grade? {
                G::AhliUtama => Post::AhliUtama,
                G::AhliMadya => Post::AhliMadya,
                G::AhliMuda => Post::AhliMuda,
                G::AhliPertama => Post::AhliPertama,
                G::Penyelia => Post::Penyelia,
                G::Mahir => Post::Mahir,
                G::Terampil => Post::Terampil,
                G::Pemula => Post::Pemula,
            },
        })
    }
}

vocabulary!(
    /// An official competent to impose a sanction.
    Authority {
        Presiden => "presiden" ["Presiden", "The President"],
        Ppk => "ppk" ["Pejabat Pembina Kepegawaian", "Personnel authority (mayor)"],
        SekretarisDaerah => "sekretaris_daerah" ["Sekretaris Daerah", "Regional secretary"],
        KepalaOpd => "kepala_opd" ["Kepala OPD", "Head of the work unit"],
        PejabatAdministrator => "pejabat_administrator" ["Pejabat Administrator", "Administrator official"],
        PejabatPengawas => "pejabat_pengawas" ["Pejabat Pengawas", "Supervising official"],
    }
);

impl Authority {
    pub fn title(self) -> &'static str {
        match self {
            Authority::Presiden => "Presiden",
            Authority::Ppk => "Wali Kota selaku Pejabat Pembina Kepegawaian (PPK)",
            Authority::SekretarisDaerah => "Sekretaris Daerah",
            Authority::KepalaOpd => {
                "Kepala OPD (pejabat pimpinan tinggi pratama atau pejabat lain yang setara)"
            }
            Authority::PejabatAdministrator => {
                "Pejabat administrator atasan (atau pejabat lain yang setara)"
            }
            Authority::PejabatPengawas => {
                "Pejabat pengawas atasan langsung (atau pejabat lain yang setara)"
            }
        }
    }
}

/// The official the table names for a sanction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CompetentOfficial {
    pub authority: Authority,
    /// The authority's title, in Indonesian.
    pub title: String,
    /// The offender's position the table was read for (the current placement).
    pub post: Post,
    /// `PP 94/2021 Bab IV`, or the city's table when `SIDAK_COMPETENT_OFFICIALS` changed
    /// the cell.
    pub basis: String,
}

/// A cell: a level, or one sanction that a level's cell does not cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Level(Level),
    Sanction(SanctionCode),
}

/// The competence table: post and level (or one sanction) to the authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompetenceTable {
    cells: BTreeMap<(Post, Key), (Authority, bool)>,
}

pub const PP94_BASIS: &str = "PP 94/2021 Bab IV (pejabat yang berwenang menghukum)";
pub const CITY_BASIS: &str = "ketentuan kota (SIDAK_COMPETENT_OFFICIALS), PP 94/2021 Bab IV";

impl Default for CompetenceTable {
    fn default() -> Self {
        use Authority::*;
        use Level::{Berat, Ringan, Sedang};
        use Post as P;
        let mut cells = BTreeMap::new();
        let mut row = |post: Post, ringan: Authority, sedang: Authority, berat: Authority| {
            for (level, who) in [(Ringan, ringan), (Sedang, sedang), (Berat, berat)] {
                cells.insert((post, Key::Level(level)), (who, false));
            }
        };
        row(P::Jpt, Ppk, Ppk, Ppk);
        row(P::AhliUtama, Ppk, Ppk, Ppk);
        row(P::Administrator, KepalaOpd, Ppk, Ppk);
        row(P::Pengawas, PejabatAdministrator, KepalaOpd, Ppk);
        row(P::Pelaksana, PejabatPengawas, PejabatAdministrator, Ppk);
        for post in [P::AhliMadya, P::AhliMuda] {
            row(post, KepalaOpd, KepalaOpd, Ppk);
        }
        for post in [
            P::AhliPertama,
            P::Penyelia,
            P::Mahir,
            P::Terampil,
            P::Pemula,
        ] {
            row(post, PejabatAdministrator, PejabatAdministrator, Ppk);
        }
        // The dismissal of a JF ahli utama is the President's (PP 94/2021 Bab IV).
        cells.insert(
            (P::AhliUtama, Key::Sanction(SanctionCode::Pemberhentian)),
            (Presiden, false),
        );
        CompetenceTable { cells }
    }
}

impl CompetenceTable {
    /// The default table with the cells of `text` replaced: `post:level=authority` or
    /// `post:sanction_code=authority`, separated by commas (`pelaksana:ringan=pejabat_administrator`).
    pub fn with_overrides(text: &str) -> Result<Self, String> {
        let mut table = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (cell, who) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not post:level=authority"))?;
            let (post, level) = cell
                .split_once(':')
                .ok_or_else(|| format!("`{cell}` is not post:level"))?;
            let post = Post::parse(post)
                .ok_or_else(|| format!("`{post}` is not one of {}", Post::listed()))?;
            let key = match (Level::parse(level), SanctionCode::parse(level)) {
                (Some(Level::None), _) => {
                    return Err("no official imposes the level `none`".to_string())
                }
                (Some(l), _) => Key::Level(l),
                (None, Some(SanctionCode::None)) | (None, None) => {
                    return Err(format!(
                        "`{level}` is neither ringan, sedang, berat nor a sanction code"
                    ))
                }
                (None, Some(code)) => Key::Sanction(code),
            };
            let who = Authority::parse(who)
                .ok_or_else(|| format!("`{who}` is not one of {}", Authority::listed()))?;
            table.cells.insert((post, key), (who, true));
        }
        Ok(table)
    }

    /// Who imposes `sanction` on an official in `post`; `None` for no sanction.
    pub fn competent(&self, post: Post, sanction: &Sanction) -> Option<CompetentOfficial> {
        if sanction.level == Level::None {
            return None;
        }
        let (who, city) = self
            .cells
            .get(&(post, Key::Sanction(sanction.code)))
            .or_else(|| self.cells.get(&(post, Key::Level(sanction.level))))?;
        Some(CompetentOfficial {
            authority: *who,
            title: who.title().to_string(),
            post,
            basis: if *city { CITY_BASIS } else { PP94_BASIS }.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::discipline::sanction;
    use Authority as A;

    fn who(table: &CompetenceTable, post: Post, code: SanctionCode) -> Option<Authority> {
        let s = sanction(code).expect("every code has an entry");
        table.competent(post, &s).map(|c| c.authority)
    }

    #[test]
    fn every_post_and_level_has_an_official() {
        let t = CompetenceTable::default();
        for post in Post::ALL {
            for code in [
                SanctionCode::TeguranLisan,
                SanctionCode::PotongTukin25Persen6Bulan,
                SanctionCode::TundaKgb1Tahun,
                SanctionCode::PenurunanJabatan,
                SanctionCode::PhpkDenganHormat,
            ] {
                assert!(who(&t, *post, code).is_some(), "{post} {code}");
            }
            assert_eq!(who(&t, *post, SanctionCode::None), None);
        }
    }

    #[test]
    fn the_kab_kota_table() {
        use Post as P;
        use SanctionCode as C;
        let t = CompetenceTable::default();
        // JPT pratama: the PPK for every level.
        assert_eq!(who(&t, P::Jpt, C::TeguranLisan), Some(A::Ppk));
        assert_eq!(who(&t, P::Jpt, C::Pemberhentian), Some(A::Ppk));
        // Administrator: ringan one level up, sedang and berat the PPK.
        assert_eq!(
            who(&t, P::Administrator, C::TeguranTertulis),
            Some(A::KepalaOpd)
        );
        assert_eq!(
            who(&t, P::Administrator, C::PotongTukin25Persen9Bulan),
            Some(A::Ppk)
        );
        // Pengawas: ringan one level up, sedang two levels up.
        assert_eq!(
            who(&t, P::Pengawas, C::PernyataanTidakPuas),
            Some(A::PejabatAdministrator)
        );
        assert_eq!(
            who(&t, P::Pengawas, C::PotongTukin25Persen12Bulan),
            Some(A::KepalaOpd)
        );
        assert_eq!(who(&t, P::Pengawas, C::PembebasanJabatan), Some(A::Ppk));
        // Pelaksana.
        assert_eq!(
            who(&t, P::Pelaksana, C::TeguranLisan),
            Some(A::PejabatPengawas)
        );
        assert_eq!(
            who(&t, P::Pelaksana, C::TundaKgb1Tahun),
            Some(A::PejabatAdministrator)
        );
        assert_eq!(
            who(&t, P::Pelaksana, C::PhpkTidakDenganHormat),
            Some(A::Ppk)
        );
        // JF ahli utama: the PPK, but the President dismisses.
        assert_eq!(who(&t, P::AhliUtama, C::PenurunanJabatan), Some(A::Ppk));
        assert_eq!(who(&t, P::AhliUtama, C::Pemberhentian), Some(A::Presiden));
        // Other JF: berat is the PPK's.
        assert_eq!(
            who(&t, P::Mahir, C::TeguranLisan),
            Some(A::PejabatAdministrator)
        );
        assert_eq!(who(&t, P::AhliMadya, C::TeguranLisan), Some(A::KepalaOpd));
        assert_eq!(who(&t, P::AhliMuda, C::Pemberhentian), Some(A::Ppk));
    }

    #[test]
    fn the_post_of_a_placement() {
        assert_eq!(Post::of(PositionKind::Jpt, None), Some(Post::Jpt));
        assert_eq!(
            Post::of(PositionKind::Fungsional, Some(JfGrade::Penyelia)),
            Some(Post::Penyelia)
        );
        assert_eq!(Post::of(PositionKind::Fungsional, None), None);
    }

    #[test]
    fn a_city_replaces_cells() {
        let t = CompetenceTable::with_overrides(
            " pelaksana:ringan=pejabat_administrator , administrator:sedang=sekretaris_daerah,\
             ahli_utama:pemberhentian=ppk",
        )
        .expect("valid");
        let s = sanction(SanctionCode::TeguranLisan).expect("entry");
        let c = t.competent(Post::Pelaksana, &s).expect("named");
        assert_eq!(c.authority, A::PejabatAdministrator);
        assert_eq!(c.basis, CITY_BASIS);
        assert_eq!(
            who(
                &t,
                Post::Administrator,
                SanctionCode::PotongTukin25Persen6Bulan
            ),
            Some(A::SekretarisDaerah)
        );
        assert_eq!(
            who(&t, Post::AhliUtama, SanctionCode::Pemberhentian),
            Some(A::Ppk)
        );
        // Untouched cells keep the regulation's official and say so.
        let c = t.competent(Post::Pengawas, &s).expect("named");
        assert_eq!(c.authority, A::PejabatAdministrator);
        assert_eq!(c.basis, PP94_BASIS);
        for bad in [
            "pelaksana=ppk",
            "pelaksana:ringan",
            "lurah:ringan=ppk",
            "pelaksana:none=ppk",
            "pelaksana:berat=bupati",
            "pelaksana:sangat_berat=ppk",
        ] {
            assert!(CompetenceTable::with_overrides(bad).is_err(), "{bad}");
        }
        assert_eq!(
            CompetenceTable::with_overrides("").expect("empty"),
            CompetenceTable::default()
        );
    }
}
