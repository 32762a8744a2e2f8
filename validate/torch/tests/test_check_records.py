"""check_records.py against docs/measurement-records.md: the doc's own example is valid; each rule,
broken one at a time, gives a message naming the key. Standard library only."""
import copy
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import check_records as CR  # noqa: E402

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "docs", "measurement-records.md")


def doc_example():
    """The example record printed in docs/measurement-records.md (the first ```json block)."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    block = text.split("```json", 1)[1].split("```", 1)[0]
    return json.loads(block)


def torch_record():
    r = doc_example()
    r["suite"] = "sdpa"
    r["label"] = "torch_sdpa_flash"
    r["workload"] = {"op": "attention", "phase": "decode", "batch": 8, "q_heads": 32, "kv_heads": 8,
                     "q_len": 1, "kv_len": 4096, "head_dim": 128, "causal": False, "dtype": "bf16",
                     "kernel": "fa2"}
    r["device"]["torch"] = "2.11.0+cu130"
    return r


class DocExample(unittest.TestCase):
    def test_doc_example_is_valid(self):
        self.assertEqual(CR.validate_record(doc_example()), [])

    def test_torch_record_is_valid(self):
        self.assertEqual(CR.validate_record(torch_record()), [])


class BrokenRules(unittest.TestCase):
    def expect(self, rec, fragment):
        probs = CR.validate_record(rec)
        self.assertTrue(any(fragment in p for p in probs), f"{fragment!r} not in {probs}")

    def test_unknown_top_level_key(self):
        r = torch_record(); r["notes"] = "x"
        self.expect(r, "notes: unknown top-level key")

    def test_each_required_key_missing(self):
        for k in CR.TOP_REQUIRED:
            r = torch_record(); del r[k]
            self.expect(r, f"{k}: missing")

    def test_error_status_needs_error(self):
        r = torch_record(); r["status"] = "error"; del r["time_s"]
        self.expect(r, "error: required")
        r["error"] = "kernel failed"
        self.assertEqual(CR.validate_record(r), [])

    def test_ok_status_rules(self):
        r = torch_record(); r["error"] = "x"
        self.expect(r, "error: present although status is ok")
        r = torch_record(); del r["time_s"]
        self.expect(r, "time_s: required when status is ok")
        r = torch_record(); r["status"] = "fine"
        self.expect(r, "status: 'fine' is not one of")

    def test_time_s_consistency(self):
        r = torch_record(); r["time_s"]["min"] = 2e-5  # > median 1.53e-5
        self.expect(r, "min <= median <= max")
        r = torch_record(); r["time_s"]["count"] = 0
        self.expect(r, "time_s.count")
        r = torch_record(); r["time_s"]["median"] = -1.0
        self.expect(r, "time_s.median")

    def test_timing_values(self):
        r = torch_record(); r["timing"]["l2"] = "cold"
        self.expect(r, "timing.l2")
        r = torch_record(); r["timing"]["method"] = "wall_clock"
        self.expect(r, "timing.method")
        r = torch_record(); r["timing"]["kernels_per_call"] = 0   # the C++ reader wants >= 1 everywhere
        self.expect(r, "timing.kernels_per_call: expected an integer >= 1")
        r["status"] = "error"; r["error"] = "x"; del r["time_s"]
        self.expect(r, "timing.kernels_per_call: expected an integer >= 1")

    def test_workload_rules(self):
        r = torch_record(); r["workload"]["seq"] = 3
        self.expect(r, "workload.seq: unknown key")
        r = torch_record(); r["workload"]["batch"] = True
        self.expect(r, "workload.batch: expected an integer")
        r = torch_record(); r["workload"]["kv_len"] = 0
        self.expect(r, "workload.kv_len: must be > 0")
        r = torch_record(); r["workload"]["q_heads"] = 30
        self.expect(r, "not a multiple of kv_heads")
        r = torch_record(); r["workload"]["causal"] = "no"
        self.expect(r, "workload.causal: expected true/false")
        r = torch_record(); r["workload"] = {"op": "conv"}
        self.expect(r, "workload.op: 'conv' is not one of")
        r = torch_record(); r["workload"]["q_len"] = 2
        self.expect(r, "workload.q_len: must be 1 for phase decode")
        r = torch_record(); r["workload"].update(phase="prefill", q_len=8192)
        self.expect(r, "workload.q_len: must be <= kv_len")
        r = torch_record(); r["workload"]["kernel"] = "flash"
        self.expect(r, "workload.kernel: 'flash' is not one of")
        r = torch_record(); r["workload"]["kernel"] = "mem_efficient"
        self.expect(r, "not known to the C++ reader yet")
        self.assertEqual(CR.validate_record(r, allow_pending=True), [])
        r = torch_record(); r["workload"]["dtype"] = "int4"
        self.expect(r, "workload.dtype")

    def test_model_step_and_elementwise_workloads(self):
        ok = [{"op": "model_step", "model": "llama3-8b", "phase": "decode", "batch": 8, "context": 2048,
               "weights": "fp8_e4m3", "kv_cache": "bf16"},
              {"op": "model_step", "model": "llama3-70b", "phase": "prefill", "batch": 1, "context": 512,
               "weights": "bf16", "kv_cache": "bf16", "num_layers": 16},
              {"op": "elementwise", "kind": "rope", "rows": 8, "cols": 5120, "dtype": "bf16"},
              {"op": "launch", "graph": True}]
        for w in ok:
            out = []
            CR.validate_workload(w, out)
            self.assertEqual(out, [], w)
        bad = {"op": "model_step", "model": "llama3-8b", "phase": "decode", "batch": 8, "context": 2048,
               "weights": "int4", "kv_cache": "bf16"}
        out = []
        CR.validate_workload(bad, out)
        self.assertTrue(any("workload.weights" in p for p in out), out)

    def test_device_rules(self):
        r = torch_record(); r["device"]["torch"] = None
        self.expect(r, "device.torch: required")
        r = torch_record(); del r["device"]["l2_bytes"]
        self.expect(r, "device.l2_bytes: missing")
        r = torch_record(); r["device"]["sm_count"] = "132"
        self.expect(r, "device.sm_count: wrong type")
        r = torch_record(); r["device"]["sm_clock_hz"] = None   # unreadable clocks are allowed
        self.assertEqual(CR.validate_record(r), [])
        r = torch_record(); r["device"]["driver"] = None          # the C++ reader wants a string
        self.expect(r, "device.driver: wrong type")
        r = torch_record(); r["device"]["cuda_runtime"] = ""
        self.expect(r, "device.cuda_runtime: must not be empty")

    def test_timestamp(self):
        r = torch_record(); r["timestamp"] = "2026-11-22 10:00:00"
        self.expect(r, "timestamp")


class Files(unittest.TestCase):
    def test_file_messages_name_lines_and_reject_nan(self):
        good = json.dumps(torch_record())
        bad = copy.deepcopy(torch_record()); bad["status"] = "maybe"
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write(good + "\n" + json.dumps(bad) + "\n" + good.replace("1.53e-05", "NaN") + "\n")
            path = f.name
        try:
            n, n_ok, n_err, probs = CR.check_file(path)
        finally:
            os.unlink(path)
        self.assertEqual(n, 2)          # the NaN line is not valid JSON
        self.assertTrue(any(p.startswith(f"{path}:2: status") for p in probs), probs)
        self.assertTrue(any(p.startswith(f"{path}:3: not valid JSON") for p in probs), probs)


if __name__ == "__main__":
    unittest.main()
