"""Submit descriptions: allow-list, htcondor2.Submit (25.x) and HTCondor 24.12's real parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipyckpt import exitcodes
from ipyckpt.condor import bootstrap, description, schedd
from ipyckpt.condor import payload as p
from ipyckpt.condor.api import cell_names
from ipyckpt.condor.description import Resources
from ipyckpt.condor.options import CondorOptionError, parse_condor_options

from .conftest import job_ad, job_ads

htcondor2 = pytest.importorskip("htcondor2", reason="htcondor 25.x is in the test extra")


def _desc(tmp_path: Path, **kw: object) -> dict[str, str]:
    args: dict[str, object] = {
        "python": "/usr/bin/python3",
        "input_files": ["input/ipyckpt-job.py", "input/ipyckpt-job.json", "input/ipyckpt-inputs"],
        "checkpoint_files": [p.CHECKPOINT],
        "output_files": [p.RESULT, p.OUTPUTS],
        "resources": Resources(cpus=2, memory="4GB", disk="2GB", gpus=1),
        "max_retries": 5,
        "name": "cell-17",
        "iwd": tmp_path,
    }
    args.update(kw)
    return description.describe(**args)  # type: ignore[arg-type]


def test_every_key_is_allowed_and_checkpointing_is_on(tmp_path: Path) -> None:
    desc = _desc(tmp_path, image="docker://python:3.11")
    assert set(desc) <= description.ALLOWED_KEYS
    assert desc["checkpoint_exit_code"] == "85"
    assert desc["transfer_checkpoint_files"] == p.CHECKPOINT
    assert desc["should_transfer_files"] == "YES"
    assert desc["when_to_transfer_output"] == "ON_EXIT"
    assert desc["container_image"] == "docker://python:3.11"
    assert "container_image" not in _desc(tmp_path)


def test_htcondor2_submit_accepts_it(tmp_path: Path) -> None:
    desc = _desc(tmp_path)
    sub = schedd.to_submit(desc)
    for key, value in desc.items():
        assert sub[key] == value
    assert "checkpoint_exit_code = 85" in str(sub)


def test_real_submit_parser_24_12(tmp_path: Path, condor24: Path) -> None:
    desc = _desc(tmp_path, image="docker://python:3.11")
    ad = job_ad(condor24, description.as_text(desc))
    assert ad["SuccessCheckpointExitCode"] == 85
    assert ad["WantFTOnCheckpoint"] is True
    assert ad["TransferCheckpoint"] == p.CHECKPOINT
    assert ad["JobMaxRetries"] == 5
    assert "ExitCode is 1" in ad["OnExitRemove"]  # retry_until: user errors are not retried
    assert ad["RequestCpus"] == 2
    assert ad["RequestMemory"] == 4096
    assert ad["RequestDisk"] == 2 * 1024 * 1024  # KiB
    assert ad["RequestGPUs"] == 1
    assert ad["ContainerImage"] == "docker://python:3.11"
    assert ad["ShouldTransferFiles"] == "YES"
    assert ad["WhenToTransferOutput"] == "ON_EXIT"
    assert ad["TransferOutput"] == f"{p.RESULT},{p.OUTPUTS}"
    assert ad["SubmitEventNotes"] == "cell-17"
    assert ad["JobMaxVacateTime"] == 60
    assert "HasSelfCheckpointTransfers" in ad["Requirements"]
    assert ad["Iwd"] == str(tmp_path)


#: The job ClassAd attribute each submit command turns into (24.12's parser): a misspelled key
#: would be accepted silently, but its attribute would be missing from the ad.
KEY_TO_ATTRIBUTE = {
    "universe": "JobUniverse",
    "executable": "Cmd",
    "arguments": "Args",
    "transfer_executable": "TransferExecutable",
    "initialdir": "Iwd",
    "transfer_input_files": "TransferInput",
    "transfer_output_files": "TransferOutput",
    "should_transfer_files": "ShouldTransferFiles",
    "when_to_transfer_output": "WhenToTransferOutput",
    "checkpoint_exit_code": "SuccessCheckpointExitCode",
    "transfer_checkpoint_files": "TransferCheckpoint",
    "max_retries": "JobMaxRetries",
    "retry_until": "OnExitRemove",
    "request_cpus": "RequestCpus",
    "request_memory": "RequestMemory",
    "request_disk": "RequestDisk",
    "request_gpus": "RequestGPUs",
    "container_image": "ContainerImage",
    "job_max_vacate_time": "JobMaxVacateTime",
    "log": "UserLog",
    "output": "Out",
    "error": "Err",
    "submit_event_notes": "SubmitEventNotes",
    "batch_name": "JobBatchName",
}


def test_every_allowed_key_reaches_the_job_ad(tmp_path: Path, condor24: Path) -> None:
    assert set(KEY_TO_ATTRIBUTE) == description.ALLOWED_KEYS
    desc = _desc(tmp_path, image="docker://python:3.11")
    assert set(desc) == description.ALLOWED_KEYS  # with image= and gpus, every key is emitted
    ad = job_ad(condor24, description.as_text(desc))
    missing = {k: a for k, a in KEY_TO_ATTRIBUTE.items() if a not in ad}
    assert not missing, missing
    assert ad["UserLog"] == str(tmp_path / "job.log") and ad["JobBatchName"] == "cell-17"


def test_real_submit_parser_24_12_without_image(tmp_path: Path, condor24: Path) -> None:
    ad = job_ad(condor24, description.as_text(_desc(tmp_path)))
    assert ad["Cmd"] == "/usr/bin/python3" and ad["Args"] == p.BOOTSTRAP
    assert ad["TransferExecutable"] is False
    assert "ContainerImage" not in ad and "RequestGPUs" in ad
    assert ad["SuccessCheckpointExitCode"] == 85


def test_real_submit_parser_24_12_sweep_is_one_cluster(tmp_path: Path, condor24: Path) -> None:
    items = [
        {description.ITEM: str(i), description.LABEL: description.item_label(f"lr={lr} (x)")}
        for i, lr in enumerate([0.1, 0.01, 0.001])
    ]
    for item in items:
        (tmp_path / item[description.ITEM]).mkdir()
    shared = [str(tmp_path / "input" / f) for f in ("ipyckpt-job.py", "ipyckpt-job.json")]
    desc = _desc(tmp_path, input_files=[*shared, p.PARAMS], per_item=True)
    ads = job_ads(condor24, description.as_text(desc, items))
    assert [(a["ClusterId"], a["ProcId"]) for a in ads] == [(1, 0), (1, 1), (1, 2)]
    assert [a["Iwd"] for a in ads] == [str(tmp_path / str(i)) for i in range(3)]
    assert [a["SubmitEventNotes"] for a in ads] == [
        "cell-17 lr=0.1 _x_", "cell-17 lr=0.01 _x_", "cell-17 lr=0.001 _x_"
    ]  # fmt: skip
    assert {a["UserLog"] for a in ads} == {str(tmp_path / "job.log")}  # one log
    assert ads[2]["TransferInput"] == ",".join([*shared, p.PARAMS])
    assert all(a["SuccessCheckpointExitCode"] == 85 for a in ads)
    for item, expanded in zip(items, ads, strict=True):  # the emulation expands alike
        mine = description.expand(desc, item)
        assert mine["initialdir"] == expanded["Iwd"]
        assert mine["submit_event_notes"] == expanded["SubmitEventNotes"]


def test_real_submit_parser_24_12_transfer_on_evict(tmp_path: Path, condor24: Path) -> None:
    ad = job_ad(condor24, description.as_text(_desc(tmp_path, transfer_on_evict=True)))
    assert ad["WhenToTransferOutput"] == "ON_EXIT_OR_EVICT"
    assert ad["SuccessCheckpointExitCode"] == 85 and ad["ShouldTransferFiles"] == "YES"


def test_real_parser_rejects_a_bad_description(condor24: Path) -> None:
    with pytest.raises(AssertionError, match="refused"):
        job_ad(condor24, "executable = /bin/true\ncheckpoint_exit_code = eighty\nqueue\n")


def test_sizes_are_checked() -> None:
    assert description.check_size("4gb", "request_memory") == "4GB"
    with pytest.raises(ValueError, match="write a size such as 4GB"):
        description.check_size("2XB", "request_memory")


def test_bootstrap_matches_payload() -> None:
    for name in ("KEY", "INPUTS", "PARAMS", "CHECKPOINT", "OUTPUTS", "RESULT", "EXECUTED"):
        assert getattr(bootstrap, name) == getattr(p, name)
    for name in ("EXIT_MISSING_DEPENDENCY", "EXIT_INTERNAL_ERROR"):
        assert getattr(bootstrap, name) == getattr(exitcodes, name)
    key = p.new_key()
    assert p.unseal(key, bootstrap.seal(key, {"a": [1, "x"]}), "doc") == {"a": [1, "x"]}


def test_options_parse() -> None:
    o = parse_condor_options("name=fit every=5s vars=a,b --request_memory 4GB backend=local")
    assert (o.name, o.every, o.vars, o.request_memory, o.backend) == (
        "fit", 5.0, ("a", "b"), "4GB", "local"
    )  # fmt: skip
    with pytest.raises(CondorOptionError, match="unknown option 'evry'"):
        parse_condor_options("evry=5s")
    with pytest.raises(CondorOptionError, match="backend=cloud: use backend=schedd"):
        parse_condor_options("backend=cloud")
    with pytest.raises(CondorOptionError, match="max_retries=-1: use a whole number >= 0"):
        parse_condor_options("max_retries=-1")


def test_cell_names() -> None:
    ns = {"data": [1], "np": object(), "scale": 2, "unused": 3, "print": print}
    code = (
        "import math\ntotal = 0\nfor x in data:\n    total += x * scale\n"
        "def f(y):\n    z = y\n    return z + len(data)\nsquares = [v * v for v in data]\nprint(total)\n"
    )
    names = cell_names(code, ns)
    assert names.inputs == ("data", "scale")
    assert names.outputs == ("f", "squares", "total", "x")
