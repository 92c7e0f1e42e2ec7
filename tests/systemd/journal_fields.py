#!/usr/bin/env python3
"""Checks memd's structured journal entries (journalctl -o json, one object a line).

usage: journal_fields.py JSON_FILE MEMD_PID EXPECT...
  EXPECT is "KIND:UID:PID:TEXT" for a client's line: exactly one entry sent by
  memd (_PID = MEMD_PID) must have MEMD_CLIENT_PID=PID and a MESSAGE containing
  TEXT, and that entry must have the MESSAGE_ID and PRIORITY of KIND (the table
  in README.md, "Logs"), MEMD_CLIENT_UID=UID, SYSLOG_IDENTIFIER=memd, and a
  MESSAGE that begins "uid UID pid PID (" as memd writes it.
  EXPECT "general:::TEXT" is a line of memd's own: MESSAGE_ID and PRIORITY of
  memd itself (info) and no MEMD_CLIENT_* field.
Exit 0 if every expectation holds, 1 (with what is wrong) otherwise.
"""
import json
import sys

# README.md, "Logs": MESSAGE_ID per kind of event, and the level memd logs it at.
KINDS = {
    "general": ("0b2875d2da444c3cae1ce4dd1030715a", "6"),
    "command": ("6fb5ab7f013344f29cbdc60b0a52a170", "5"),
    "read": ("aaf4d494fe204543869f193305442896", "7"),
    "failed": ("678eee29fe814e26a940e6d2a487c720", "4"),
    "refused": ("0bf25db0e4124ad49bed57e8d3e33642", "4"),
}


def load(path, memd_pid):
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            e = json.loads(line)
            if e.get("_PID") == memd_pid:
                entries.append(e)
    return entries


def check_client(entries, kind, uid, pid, text):
    mid, prio = KINDS[kind]
    found = [e for e in entries
             if e.get("MEMD_CLIENT_PID") == pid and text in str(e.get("MESSAGE", ""))]
    if len(found) != 1:
        return [f"{kind} {text!r} of pid {pid}: {len(found)} entries, wanted 1"]
    e = found[0]
    wrong = []
    want = {"MESSAGE_ID": mid, "PRIORITY": prio, "MEMD_CLIENT_UID": uid,
            "SYSLOG_IDENTIFIER": "memd"}
    for field, value in want.items():
        if e.get(field) != value:
            wrong.append(f"{kind} {text!r}: {field}={e.get(field)!r}, wanted {value!r}")
    prefix = f"uid {uid} pid {pid} ("
    if not str(e.get("MESSAGE", "")).startswith(prefix):
        wrong.append(f"{kind}: MESSAGE {e.get('MESSAGE')!r} does not begin {prefix!r}")
    return wrong


def check_general(entries, text):
    mid, prio = KINDS["general"]
    found = [e for e in entries if text in str(e.get("MESSAGE", ""))]
    if not found:
        return [f"general {text!r}: no entry"]
    e = found[0]
    wrong = []
    for field, value in {"MESSAGE_ID": mid, "PRIORITY": prio, "SYSLOG_IDENTIFIER": "memd"}.items():
        if e.get(field) != value:
            wrong.append(f"general {text!r}: {field}={e.get(field)!r}, wanted {value!r}")
    for field in ("MEMD_CLIENT_UID", "MEMD_CLIENT_PID"):
        if field in e:
            wrong.append(f"general {text!r}: has {field}={e[field]!r}")
    return wrong


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    entries = load(argv[1], argv[2])
    wrong = []
    for spec in argv[3:]:
        kind, uid, pid, text = spec.split(":", 3)
        if kind == "general":
            wrong += check_general(entries, text)
        else:
            wrong += check_client(entries, kind, uid, pid, text)
    for w in wrong:
        print(w)
    if wrong:
        print(f"({len(entries)} entries from memd pid {argv[2]})")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
