"""The PyTorch pieces on the CPU: Triton kernels under the interpreter vs float references, the
attention reference's mask alignment, and whole-step properties of the plain decoder (decode over a
cache equals the last row of a longer prefill; windowed attention; fp8 close to bf16).
Skipped (with the reason printed) where torch or triton is not installed."""
import os
import sys
import tempfile
import unittest

os.environ.setdefault("TRITON_INTERPRET", "1")   # before triton is imported
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

try:
    import torch
    import triton  # noqa: F401
    HAVE = True
except ImportError as e:  # pragma: no cover
    HAVE = False
    WHY = f"torch/triton not installed ({e})"

if HAVE:
    import common as C
    import check_records as CR
    import kernels as K
    import model_step as MS
    import sdpa as SD
    import elementwise as EW


def rel(a, b):
    return float((a.float() - b.float()).norm() / b.float().norm())


@unittest.skipUnless(HAVE, "torch/triton not installed")
class Kernels(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(int.from_bytes(os.urandom(4), "little"))   # fresh inputs each run

    def test_rope_matches_reference_partial_head_block(self):
        # 5 q heads + 1 kv head: the last program's head block (4 per program) is partly masked
        T, HQ, HKV, D = 7, 5, 1, 16
        q = torch.randn(T, HQ * D, dtype=torch.bfloat16)
        k = torch.randn(T, HKV * D, dtype=torch.bfloat16)
        pos = torch.randint(0, 100, (T,), dtype=torch.int32)
        cs = K.rope_cos_sin(128, D, 10000.0, "cpu")
        rq, rk = K.rope_reference(q, pos, cs, HQ, D), K.rope_reference(k, pos, cs, HKV, D)
        K.rope_(q, k, pos, cs, HQ, HKV, D)
        self.assertLess(rel(q, rq), 1e-2)
        self.assertLess(rel(k, rk), 1e-2)

    def test_rope_position_zero_is_identity_and_norm_preserving(self):
        T, HQ, HKV, D = 3, 2, 2, 8
        q = torch.randn(T, HQ * D, dtype=torch.float32)
        k = torch.randn(T, HKV * D, dtype=torch.float32)
        q0, k0 = q.clone(), k.clone()
        cs = K.rope_cos_sin(16, D, 10000.0, "cpu")
        K.rope_(q, k, torch.zeros(T, dtype=torch.int32), cs, HQ, HKV, D)
        self.assertTrue(torch.allclose(q, q0) and torch.allclose(k, k0))
        K.rope_(q, k, torch.tensor([1, 5, 9], dtype=torch.int32), cs, HQ, HKV, D)
        self.assertTrue(torch.allclose(q.view(T, HQ, D).norm(dim=-1), q0.view(T, HQ, D).norm(dim=-1), rtol=1e-5))

    def test_silu_mul(self):
        g, u = torch.randn(3, 333, dtype=torch.bfloat16), torch.randn(3, 333, dtype=torch.bfloat16)
        self.assertLess(rel(K.silu_mul(g, u), K.silu_mul_reference(g, u)), 1e-2)
        # silu(0) * u = 0, silu(x) -> x for large x
        self.assertEqual(float(K.silu_mul(torch.zeros(4), torch.ones(4)).abs().max()), 0.0)
        self.assertAlmostEqual(float(K.silu_mul(torch.full((1,), 20.0), torch.ones(1))[0]), 20.0, places=4)

    def test_quant_scale_and_saturation_fp32_path(self):
        x = torch.randn(5, 77, dtype=torch.bfloat16) * 100
        out = torch.empty(5, 77, dtype=torch.float32)
        K.quant_fp8(x, torch.tensor([3.0]), out=out)
        self.assertTrue(torch.equal(out, (x.float() * 3.0).clamp(-448, 448)))
        self.assertEqual(float(out.abs().max()), 448.0)   # |x| * 3 exceeds 448: saturated, not inf/NaN

    def test_rmsnorm(self):
        x = torch.randn(6, 300, dtype=torch.bfloat16) * 3
        w = 1 + 0.02 * torch.randn(300, dtype=torch.bfloat16)
        y = K.rmsnorm_triton(x, w, 1e-5)
        self.assertLess(rel(y, K.rmsnorm_reference(x, w, 1e-5)), 1e-2)
        # unit RMS per row (weight ~1)
        self.assertTrue(torch.allclose(y.float().pow(2).mean(-1).sqrt(), torch.ones(6), atol=0.05))


@unittest.skipUnless(HAVE, "torch/triton not installed")
class Attention(unittest.TestCase):
    def test_reference_causal_is_bottom_right(self):
        q = torch.randn(1, 4, 1, 16)
        k, v = torch.randn(1, 2, 9, 16), torch.randn(1, 2, 9, 16)
        # one query at the last position sees every key: causal == non-causal
        self.assertTrue(torch.allclose(SD.reference_attention(q, k, v, True), SD.reference_attention(q, k, v, False)))
        # square causal matches torch's math backend (top-left == bottom-right when Sq == Skv)
        q2 = torch.randn(1, 4, 9, 16)
        ref = torch.nn.functional.scaled_dot_product_attention(
            q2, k.repeat_interleave(2, 1), v.repeat_interleave(2, 1), is_causal=True)
        self.assertLess(rel(SD.reference_attention(q2, k, v, True), ref), 1e-5)

    def test_flash_gqa_vs_reference_on_cpu(self):
        c = SD.AttnConfig("sdpa", "flash", SD.AttnShape("prefill", 2, 8, 2, 40, 40, 32, True))
        q = torch.randn(2, 8, 40, 32, dtype=torch.bfloat16)
        k, v = torch.randn(2, 2, 40, 32, dtype=torch.bfloat16), torch.randn(2, 2, 40, 32, dtype=torch.bfloat16)
        with SD._backend_ctx(c):
            out = SD._call(c, q, k, v)
        chk = SD._check(c, q, k, v, out)
        self.assertTrue(chk["pass"], chk)


@unittest.skipUnless(HAVE, "torch/triton not installed")
class Step(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dev = C.Device(True, None)
        cls.rms = K.choose_rmsnorm(cls.dev)

    def _model(self, name, seed=0, sharp=False):
        m = MS.dry_run_models()[name]
        model = MS.Model(m, m.layers, self.dev, self.rms, seed=seed)
        if sharp:  # larger q/k weights: peaked attention, so positions and cache slots matter
            for lw in model.layers:
                lw["q"].mul_(15.0)
                lw["k"].mul_(15.0)
        model.probe_attention()
        return m, model

    def _decode_equals_prefill(self, name, S):
        """Prefill of S+1 tokens -> last-token logits; prefill of the first S tokens, then decode
        token S+1 over that cache -> logits. Same function, so they agree up to bf16 rounding."""
        m, model = self._model(name, sharp=True)
        g = torch.Generator().manual_seed(5)
        toks = torch.randint(0, m.vocab, (2, S + 1), generator=g)
        long = model.make_state(MS.StepConfig(m.name, "prefill", 2, S + 1, "bf16"), fill_cache=False)
        long.tokens = toks
        want = model.step(long)
        pre = model.make_state(MS.StepConfig(m.name, "prefill", 2, S, "bf16"), fill_cache=False)
        pre.tokens = toks[:, :S].contiguous()
        model.step(pre)
        dec = model.make_state(MS.StepConfig(m.name, "decode", 2, S, "bf16"))
        for l in range(m.layers):
            dec.k_cache[l][:, :, :S].copy_(pre.k_cache[l])
            dec.v_cache[l][:, :, :S].copy_(pre.v_cache[l])
        dec.tokens = toks[:, S:].contiguous()
        got = model.step(dec)
        self.assertEqual(tuple(got.shape), (2, m.vocab))
        self.assertTrue(bool(got.isfinite().all()))
        self.assertGreater(MS._cosine(got, want), 0.999)
        self.assertLess(rel(got, want), 0.05)
        return m, dec

    def test_decode_over_cache_equals_prefill_last_row(self):
        self._decode_equals_prefill("llama3-8b", 11)

    def test_qkv_bias_model(self):
        self._decode_equals_prefill("qwen2.5-7b", 7)

    def test_sliding_window_prefill_and_decode_agree(self):
        # window 16 in the dry-run Mistral; S = 19 > 16: the band mask (prefill) and the cache slice
        # of the last 16 keys (decode) must describe the same attention
        m, dec = self._decode_equals_prefill("mistral-7b", 19)
        self.assertEqual(dec.kv_lo, 19 + 1 - 16)
        st = MS.Model(m, 1, self.dev, self.rms).make_state(MS.StepConfig(m.name, "prefill", 1, 20, "bf16"),
                                                          fill_cache=False)
        keep = st.mask == 0
        i, j = 19, torch.arange(20)
        self.assertTrue(torch.equal(keep[i], (j <= i) & (j > i - 16)))

    def test_window_changes_the_result(self):
        # the same weights without a window give different logits at S > window (the mask bites)
        m, model = self._model("mistral-7b")
        toks = torch.randint(0, m.vocab, (1, 20), generator=torch.Generator().manual_seed(3))
        st = model.make_state(MS.StepConfig(m.name, "prefill", 1, 20, "bf16"), fill_cache=False)
        st.tokens = toks
        a = model.step(st)
        st.mask = None
        b = model.step(st)
        self.assertGreater(rel(a, b), 1e-3)

    def test_fp8_close_to_bf16(self):
        m, model = self._model("llama3-8b")
        model.probe_scaled_mm()
        model.calibrate(8)
        st = model.make_state(MS.StepConfig(m.name, "decode", 2, 9, "bf16"))
        ref = model.step(st).clone()
        model.to_fp8()
        got = model.step(st)
        self.assertTrue(bool(got.isfinite().all()))
        self.assertGreater(MS._cosine(got, ref), 0.99)
        self.assertLess(MS._cosine(got, ref), 0.999999)   # it really ran in fp8

    def test_profile_regions_cover_every_class(self):
        m, model = self._model("llama3-8b")
        st = model.make_state(MS.StepConfig(m.name, "decode", 1, 5, "bf16"))
        with C.RegionProfiler(self.dev) as rp:
            model.step(st, MS.Regions(rp))
        ct = MS.class_totals(rp.regions, rp.unattributed)
        for cls in ("gemm", "attention", "norm", "rope", "activation", "add", "kv_write", "embedding"):
            self.assertIn(cls, ct)
        # on the CPU the "kernels" are the outermost aten ops: one aten::linear per GEMM
        gemm_ops = [k.name for r in rp.regions if r.tag == "cls:gemm" for k in r.kernels]
        self.assertEqual(gemm_ops.count("aten::linear"), model.expected_kernels(m.layers)["gemm"])


@unittest.skipUnless(HAVE, "torch/triton not installed")
class DryRunRecords(unittest.TestCase):
    def test_sdpa_and_elementwise_records_validate(self):
        dev = C.Device(True, None)
        rms = K.choose_rmsnorm(dev)
        with tempfile.TemporaryDirectory() as d:
            w = C.RecordWriter(os.path.join(d, "sdpa.jsonl"))
            wp = C.RecordWriter(os.path.join(d, "pending.jsonl"), allow_pending=True)
            main, _ = SD.dry_run_configs()
            SD.SdpaRunner(dev, {"sdpa": w, SD.PENDING_FILE: wp}, C.Deadline(None)).run(main[:3])
            w.close()
            wp.close()
            n, n_ok, n_err, probs = CR.check_file(w.path)
            self.assertEqual(probs, [])
            self.assertEqual((n, n_ok, n_err), (2, 1, 1))    # flash ran; cuDNN does not exist on the CPU
            n, n_ok, n_err, probs = CR.check_file(wp.path, allow_pending=True)
            self.assertEqual((n, n_err, probs), (1, 1, []))  # mem-efficient: its own file
            w2 = C.RecordWriter(os.path.join(d, "ew.jsonl"))
            r = EW.ElementwiseRunner(dev, w2, C.Deadline(None), rms)
            r.run([c for c in EW.dry_run_configs(["triton_rmsnorm"]) if c.rows == 5])
            w2.close()
            n, n_ok, n_err, probs = CR.check_file(w2.path)
            self.assertEqual(probs, [])
            self.assertEqual(n_err, 0)
            self.assertEqual(n, 8)

    def test_expired_deadline_writes_not_run_records(self):
        dev = C.Device(True, None)
        with tempfile.TemporaryDirectory() as d:
            w = C.RecordWriter(os.path.join(d, "sdpa.jsonl"))
            dl = C.Deadline(0.0)
            import time
            time.sleep(0.01)
            main, _ = SD.dry_run_configs()
            SD.SdpaRunner(dev, {"sdpa": w}, dl).run(main[:2])
            w.close()
            self.assertEqual([r["status"] for r in w.rows], ["error", "error"])
            self.assertTrue(all("not run" in r["error"] for r in w.rows))


if __name__ == "__main__":
    unittest.main()
