"""The supervisor's reading through the Python client generated from openapi.yaml: log in
with the plain client, list reports, read one back, download its photo, read its follow-up.
Run by scripts/client-check.py after the TypeScript flow has filled the server; the
generated package `client` is on the path. Any surprise exits non-zero."""
import os
import sys

from client import AuthenticatedClient, Client
from client.api.auth import login
from client.api.follow_ups import get_follow_up, list_follow_ups
from client.api.inspections import evidence_content, get_inspection, list_inspections
from client.models import (
    FollowUp,
    LoginRequest,
    PageFollowUpSummary,
    PageInspectionSummary,
    SanctionCode,
    TokenResponse,
)
from client.models import Inspection
from client.types import File


def fail(message):
    sys.exit(f"python client flow: {message}")


base = os.environ["SIDAK_URL"]
answer = login.sync(client=Client(base_url=base),
                    body=LoginRequest(username=os.environ["SIDAK_USER"], password=os.environ["SIDAK_PASSWORD"]))
if not isinstance(answer, TokenResponse):
    fail(f"login: {answer!r}")
api = AuthenticatedClient(base_url=base, token=answer.access_token)

page = list_inspections.sync(client=api, limit=10)
if not isinstance(page, PageInspectionSummary) or not page.items:
    fail(f"list reports: {page!r}")
row = page.items[0]
report = get_inspection.sync(row.id, client=api)
if not isinstance(report, Inspection):
    fail(f"read report: {report!r}")
if len(report.findings) != row.findings_count or len(report.attendance) != row.attendance_count:
    fail("the list's counts differ from the report's rows")
if not report.evidence:
    fail("the report has no photo")
photo = evidence_content.sync(report.evidence[0].id, client=api)
if not isinstance(photo, File) or len(photo.payload.read()) != report.evidence[0].size_bytes:
    fail(f"download photo: {photo!r}")

follow_ups = list_follow_ups.sync(client=api)
if not isinstance(follow_ups, PageFollowUpSummary) or not follow_ups.items:
    fail(f"list follow-ups: {follow_ups!r}")
follow_up = get_follow_up.sync(follow_ups.items[0].id, client=api)
if not isinstance(follow_up, FollowUp) or follow_up.sanction != SanctionCode.TEGURAN_LISAN:
    fail(f"read follow-up: {follow_up!r}")
print(f"python client flow passed: {len(report.findings)} findings, a {report.evidence[0].size_bytes}-byte photo, "
      f"follow-up decided with {follow_up.sanction.value}")
