"""Prints the totals of a schemathesis JSON report (`--report json`): the test cases,
the failures of each check (every check asked for, so a zero is shown as one), and a
closing 'N passed, N failed' line. Exits 1 when any case failed or errored.

Usage: summary.py REPORT CHECK,CHECK,...
"""

import json
import sys

# The failure classes each of the checks asked for raises.
CHECK_OF = {
    "ServerError": "not_a_server_error",
    "ContentTypeServerError": "not_a_server_error",
    "UndefinedStatusCode": "status_code_conformance",
    "MissingContentType": "content_type_conformance",
    "UndefinedContentType": "content_type_conformance",
    "MalformedMediaType": "content_type_conformance",
    "JsonSchemaError": "response_schema_conformance",
    "MalformedJson": "response_schema_conformance",
    "ContentDeserializationError": "response_schema_conformance",
    "DiscriminatorMismatch": "response_schema_conformance",
    "RejectedPositiveData": "positive_data_acceptance",
    "AcceptedNegativeData": "negative_data_rejection",
}

report = json.load(open(sys.argv[1]))
checks = sys.argv[2].split(",")
cases = report["test_cases"]
by_check = {check: 0 for check in checks}
for group in report["failures"]:
    check = CHECK_OF.get(group["type"], f"{group['type']} ({group['code']})")
    by_check[check] = by_check.get(check, 0) + group["count"]
errors = sum(e["count"] for e in report["errors"])
operations = report["operations"]
print(f"api-fuzz: {cases['generated']} test cases over {operations['tested']} operations in "
      f"{report['running_time']:.0f} s (seed {report['seed']}); failures by check:")
for check, count in by_check.items():
    print(f"  {check}: {count}")
failed = cases["with_failures"] + errors
print(f"api-fuzz: {cases['generated'] - failed} passed, {failed} failed")
sys.exit(1 if failed or report["exit_code"] else 0)
