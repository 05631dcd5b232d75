#!/usr/bin/env python3
"""Markdown summary of a JUnit XML report (the harness's --format junit), for
$GITHUB_STEP_SUMMARY.

    junit-summary.py RESULTS.xml [TITLE]

Prints the counts, the summary line `N passed, N failed, N skipped, N xfail` (timeouts
counted as failed, as the harness does; a known failure is a <skipped type="xfail">, an XPASS a
passing testcase with an `xpass` property, counted as passed and listed), and a table of every test that did not pass with its message.
Exit status 0 if the file parsed, 2 if it is missing or not JUnit XML (the message says which).
Standard library only (xml.etree), so it runs before anything is installed.
"""
import sys
import xml.etree.ElementTree as ET


def cell(text: str, limit: int = 300) -> str:
    """One Markdown table cell: no pipes, no newlines, no HTML, bounded length."""
    text = " ".join((text or "").split())
    text = text.replace("`", "'").replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: junit-summary.py RESULTS.xml [TITLE]", file=sys.stderr)
        return 2
    path, title = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "nvharness results")
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"### {cell(title)}\n\nNo usable JUnit report at `{cell(path)}`: {cell(str(e))}")
        print(f"junit-summary: {path}: {e}", file=sys.stderr)
        return 2
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if root.tag not in ("testsuites", "testsuite"):
        print(f"junit-summary: {path}: root element is <{root.tag}>, not <testsuites>", file=sys.stderr)
        return 2
    passed = failed = skipped = timed_out = xfail = 0
    rows = []
    for suite in suites:
        for tc in suite.findall("testcase"):
            name = tc.get("name", "?")
            failure = tc.find("failure")
            error = tc.find("error")
            skip = tc.find("skipped")
            if failure is not None or error is not None:
                node = failure if failure is not None else error
                failed += 1
                kind = "TIMEOUT" if node.get("type") == "timeout" else "FAIL"
                timed_out += kind == "TIMEOUT"
                rows.append((kind, name, tc.get("time", ""), node.get("message", "")))
            elif skip is not None and skip.get("type") == "xfail":
                xfail += 1
                rows.append(("XFAIL", name, tc.get("time", ""), skip.get("message", "")))
            elif skip is not None:
                skipped += 1
                rows.append(("SKIP", name, "", skip.get("message", "")))
            else:
                passed += 1
                xpass = [p for p in tc.iter("property") if p.get("name") == "xpass"]
                if xpass:
                    rows.append(("XPASS", name, tc.get("time", ""), xpass[0].get("value", "")))
    total = passed + failed + skipped + xfail
    host = suites[0].get("hostname", "") if suites else ""
    print(f"### {cell(title)}\n")
    print(f"{total} tests on `{cell(host)}` in {cell(root.get('time', '?'))} s"
          + (f"; {timed_out} timed out (counted as failed)" if timed_out else "") + "\n")
    print(f"**{passed} passed, {failed} failed, {skipped} skipped, {xfail} xfail**\n")
    if rows:
        print("| status | test | time (s) | message |\n|---|---|---:|---|")
        order = {"TIMEOUT": 0, "FAIL": 1, "XPASS": 2, "XFAIL": 3, "SKIP": 4}
        for kind, name, t, msg in sorted(rows, key=lambda r: (order[r[0]], r[1])):
            print(f"| {kind} | `{cell(name, 120)}` | {cell(t)} | {cell(msg)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
