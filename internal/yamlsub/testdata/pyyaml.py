#!/usr/bin/env python3
"""Writes pyyaml.json: how PyYAML's SafeLoader (YAML 1.1) reads plain
scalars, for TestResolve11MatchesPyYAML. Run from this folder with PyYAML
installed: python3 pyyaml.py > pyyaml.json"""
import datetime
import itertools
import json
import math
import random

import yaml

cands = set()
for n in range(1, 4):
    for t in itertools.product("019+-._:eExob", repeat=n):
        cands.add("".join(t))
random.seed(1)
for _ in range(3000):
    s = "".join(random.choice("0123456789+-._:eExXoObBaAfF ") for _ in range(random.randint(1, 10))).strip()
    if s:
        cands.add(s)
cands.update([
    "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
    "true", "True", "TRUE", "tRUE", "false", "False", "FALSE", "null", "Null", "NULL", "nULL", "~",
    "<<", "=", ".inf", "-.inf", "+.inf", ".Inf", ".INF", ".NaN", ".nan", ".NAN", "-.nan", ".Nan",
    "2026-03-01", "2026-3-1", "2026-03-01T00:00:00Z", "2026-02-30", "2001-12-14 21:59:43.10 -5",
    "2001-12-14t21:59:43.10-05:00", "0000-01-01", "2026-01-01T25:00:00Z", "2026-01-01 10:00:00 +24",
    "99999999999999999999", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "1.0e+400", "1.0e-400", "0x_1F", "0b_", "0x_", "1:30", "1:30.5", "190:20:30", "1:60",
])


def reading(s):
    try:
        node = yaml.compose("a: " + s)
        v = node.value[0][1]
        if v.style is not None or v.value != s:
            return None
    except yaml.YAMLError:
        return None
    try:
        val = yaml.safe_load("a: " + s)["a"]
    except (yaml.YAMLError, ValueError):
        return "error"
    if val is None:
        return "null"
    if isinstance(val, bool):
        return "bool:" + str(val).lower()
    if isinstance(val, int):
        return "int:%d" % val if -2**63 <= val < 2**63 else "big"
    if isinstance(val, float):
        if math.isnan(val):
            return "float:NaN"
        if math.isinf(val):
            return "float:+Inf" if val > 0 else "float:-Inf"
        return "float:" + repr(val)
    if isinstance(val, (str, datetime.date)):
        return "text"
    return "other"


out = {}
for s in sorted(cands):
    r = reading(s)
    if r is not None:
        out[s] = r
print(json.dumps(out, indent=0, sort_keys=True))
