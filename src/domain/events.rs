//! What happened, as webhook receivers are told: the event types.

use super::vocab::vocabulary;

vocabulary!(
    /// The kind of a webhook event.
    EventType {
        /// A report was submitted (sent submitted, or a draft submitted).
        InspectionSubmitted => "inspection.submitted" ["Laporan sidak terkirim", "Inspection submitted"],
        /// A follow-up was raised on an official (by hand or by the flag rules).
        FollowUpRaised => "follow_up.raised" ["Tindak lanjut diajukan", "Follow-up raised"],
        FollowUpAssigned => "follow_up.assigned" ["Tindak lanjut ditugaskan", "Follow-up assigned"],
        FollowUpDecided => "follow_up.decided" ["Tindak lanjut diputuskan", "Follow-up decided"],
        FollowUpDismissed => "follow_up.dismissed" ["Tindak lanjut dihentikan", "Follow-up dismissed"],
        FollowUpReopened => "follow_up.reopened" ["Tindak lanjut dibuka kembali", "Follow-up reopened"],
        /// An open or in-review follow-up passed its due date (local time).
        FollowUpOverdue => "follow_up.overdue" ["Tindak lanjut lewat tenggat", "Follow-up overdue"],
        /// An official moved to another OPD or position (mutasi).
        OfficialTransferred => "official.transferred" ["Pegawai dimutasi", "Official transferred"],
        /// A photo was added to a report.
        EvidenceAdded => "evidence.added" ["Foto bukti ditambahkan", "Evidence added"],
    }
);

vocabulary!(
    /// Where a webhook delivery stands.
    DeliveryStatus {
        /// Not yet accepted by the receiver; `next_attempt_at` says when it is tried.
        Pending => "pending" ["Menunggu", "Pending"],
        /// The receiver answered 2xx.
        Delivered => "delivered" ["Terkirim", "Delivered"],
        /// The retries ran out, or the receiver refused it (a 4xx other than 429, or a
        /// redirect elsewhere); it can be sent again by hand.
        Failed => "failed" ["Gagal", "Failed"],
    }
);
