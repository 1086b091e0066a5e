"""OpenMP's wait policy is chosen from the CPU's load before torch loads (s2s/cpu.py); tested in fresh processes,
since in this one torch is loaded already and OpenMP has read its environment."""

import json
import subprocess
import sys
import time

import pytest

PROBE = """
import json, sys
from s2s.cpu import configure_openmp
env = json.loads(sys.argv[1])
busy = None if sys.argv[2] == "measure" else float(sys.argv[2])
policy = configure_openmp(env, busy=busy)
print(json.dumps([policy, env, "torch" in sys.modules]))
"""


def probe(env: dict, busy: str) -> list:
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(env), busy], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("busy, expected", [("0.0", None), ("0.4", None), ("0.5", "passive"), ("1.0", "passive")])
def test_threads_sleep_when_other_work_holds_half_a_core(busy, expected):
    policy, env, torch_loaded = probe({}, busy)
    assert policy == expected and env == ({"OMP_WAIT_POLICY": "passive"} if expected else {})
    assert not torch_loaded  # choosing costs no torch import (s2s --help stays fast)


@pytest.mark.parametrize("mine", [{"OMP_WAIT_POLICY": "active"}, {"GOMP_SPINCOUNT": "1000"}])
def test_the_users_own_setting_wins(mine):
    assert probe(mine, "2.0")[:2] == [None, mine]


def test_a_real_busy_process_is_seen():
    """The measurement itself: one busy loop on this machine shows as about a core."""
    quiet_policy = probe({}, "measure")[0]
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.3)  # the loop's interpreter is up and spinning
    try:
        busy_policy = probe({}, "measure")[0]
    finally:
        loop.kill()
        loop.wait()
    assert busy_policy == "passive"
    assert quiet_policy in (None, "passive")  # the test suite itself may be running something beside it


def test_once_torch_is_loaded_nothing_is_changed():
    import torch  # noqa: F401  (loaded here already; OpenMP has read its environment)

    from s2s.cpu import configure_openmp

    env: dict = {}
    assert configure_openmp(env, busy=2.0) is None and env == {}


SPY = """
import sys
import s2s.cpu as cpu
seen = []
choose = cpu.configure_openmp
cpu.configure_openmp = lambda *a, **k: seen.append("torch" in sys.modules) or choose(*a, **k)
from s2s.cli import app
try:
    app(sys.argv[1:], prog_name="s2s")
except SystemExit:
    pass
print(seen)
"""


@pytest.mark.parametrize("command", ["evaluate", "translate", "compare", "train"])
def test_the_policy_is_chosen_before_torch_loads(command, tmp_path):
    """`--device cpu` is checked as the command line is read, before the command chooses OpenMP's policy: that
    check must not load torch, or the choice would come too late to count."""
    args = {"evaluate": ["--hyp", tmp_path / "h", "--ref", tmp_path / "r"], "translate": ["-m", tmp_path],
            "compare": [tmp_path], "train": [tmp_path / "no-recipe.yaml"]}[command]
    done = subprocess.run([sys.executable, "-c", SPY, command, "--device", "cpu", *map(str, args)],
                          capture_output=True, text=True)
    assert done.stdout.strip() == "[False]", done.stderr
