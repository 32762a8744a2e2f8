"""Shape lists, sizes, memory estimates, rotation and the run-time plan: pure Python (no torch).
Golden values are worked out by hand in the comments."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import check_records as CR  # noqa: E402
import common as C  # noqa: E402
import elementwise as EW  # noqa: E402
import model_step as MS  # noqa: E402
import sdpa as SD  # noqa: E402

MIB = 1024 * 1024


class Rotation(unittest.TestCase):
    def test_rotation_sets(self):
        # 16 MiB sets, 50 MiB L2: ceil(150 / 16) = 10 sets
        self.assertEqual(C.rotation_sets(16 * MIB, 50 * MIB, 10 ** 12, 512), 10)
        # a set larger than 3x L2 still gets 2 (min_sets) when memory allows, 1 when not
        self.assertEqual(C.rotation_sets(200 * MIB, 50 * MIB, 10 ** 12, 512), 2)
        self.assertEqual(C.rotation_sets(200 * MIB, 50 * MIB, 300 * MIB, 512), 1)
        # 1 KiB sets want 153,600 sets: capped at max_sets
        self.assertEqual(C.rotation_sets(1024, 50 * MIB, 10 ** 12, 8192), 8192)

    def test_l2_state(self):
        self.assertEqual(C.l2_state(16 * MIB, 10, 50 * MIB), "cold_rotating")   # 160 >= 150 MiB
        self.assertEqual(C.l2_state(16 * MIB, 9, 50 * MIB), "warm")             # 144 < 150 MiB

    def test_replays_for(self):
        # 1 ms per call x 4 calls: 0.04 s target -> 10 replays; bounded by [min, max]
        self.assertEqual(C.replays_for(1e-3, 4, 5, 100, 0.04), 10)
        self.assertEqual(C.replays_for(1.0, 1, 20, 100, 0.04), 20)
        self.assertEqual(C.replays_for(1e-7, 1, 20, 100, 0.04), 100)

    def test_stats(self):
        self.assertEqual(C.stats_s([3.0, 1.0, 2.0]), {"median": 2.0, "min": 1.0, "max": 3.0, "count": 3})


class Windows(unittest.TestCase):
    def test_assign_to_windows(self):
        K = C.KernelEvent
        wins = [(0.0, 10.0, "a"), (20.0, 30.0, "b")]
        out = [C.RegionProfile("a"), C.RegionProfile("b")]
        lost = C.assign_to_windows([K("k1", 1.0, 2.0), K("k2", 11.5, 1.0), K("k3", 25.0, 1.0),
                                    K("k4", 15.0, 1.0), K("k5", -5.0, 1.0)], wins, out)
        self.assertEqual([k.name for k in out[0].kernels], ["k1", "k2"])   # 11.5 is within 2 us of the end
        self.assertEqual([k.name for k in out[1].kernels], ["k3"])
        self.assertEqual(sorted(k.name for k in lost), ["k4", "k5"])


class Attribution(unittest.TestCase):
    """attribute_kernels on fake profiler events (the GPU path cannot run on the CPU)."""

    CPU, CUDA = "cpu", "cuda"

    def ev(self, name, start, end, dev="cpu", parent=None, kernels=()):
        from types import SimpleNamespace as NS
        return NS(name=name, device_type=dev, time_range=NS(start=start, end=end), cpu_parent=parent,
                  kernels=[NS(name=k, duration=d) for k, d in kernels], is_user_annotation=False)

    def test_correlation_wins_when_gpu_timestamps_are_skewed(self):
        a = self.ev("cls:gemm", 0.0, 10.0)
        # a Triton launch has no aten op: its kernel attaches to the annotation itself
        b = self.ev("cls:rope", 20.0, 30.0, kernels=[("_rope_kernel", 1.5)])
        op = self.ev("aten::mm", 1.0, 3.0, parent=a, kernels=[("nvjet_gemm", 4.0)])
        # device events 50 us late (skewed clocks): no window contains them
        dk = [self.ev("nvjet_gemm", 55.0, 59.0, self.CUDA), self.ev("_rope_kernel", 75.0, 76.5, self.CUDA),
              self.ev("cls:gemm", 55.0, 59.0, self.CUDA)]   # a gpu_user_annotation span: never a kernel
        regions, lost, method, counts = C.attribute_kernels([a, b, op] + dk, {"cls:gemm", "cls:rope"}, self.CPU, True)
        self.assertEqual(method, "correlation")
        self.assertEqual([[k.name for k in r.kernels] for r in regions], [["nvjet_gemm"], ["_rope_kernel"]])
        self.assertEqual(lost, [])
        self.assertEqual(counts, {"device_kernels": 2, "by_time_window": 0, "by_correlation": 2})

    def test_time_window_when_no_correlation(self):
        a = self.ev("cls:add", 0.0, 10.0)
        dk = [self.ev("add_kernel", 4.0, 5.0, self.CUDA), self.ev("stray", 40.0, 41.0, self.CUDA)]
        regions, lost, method, counts = C.attribute_kernels([a] + dk, {"cls:add"}, self.CPU, True)
        self.assertEqual(method, "time_window")
        self.assertEqual([k.name for k in regions[0].kernels], ["add_kernel"])
        self.assertEqual([k.name for k in lost], ["stray"])

    def test_correlation_reports_kernels_it_missed(self):
        a = self.ev("cls:norm", 0.0, 10.0)
        op = self.ev("aten::rms_norm", 1.0, 2.0, parent=a, kernels=[("rms", 2.0)])
        dk = [self.ev("rms", 55.0, 57.0, self.CUDA), self.ev("orphan", 80.0, 81.0, self.CUDA)]
        regions, lost, method, _ = C.attribute_kernels([a, op] + dk, {"cls:norm"}, self.CPU, True)
        self.assertEqual(method, "correlation")
        self.assertEqual([k.name for k in lost], ["orphan"])


class Sdpa(unittest.TestCase):
    def test_flops_and_bytes(self):
        s = SD.AttnShape("prefill", 1, 32, 8, 1024, 1024, 128, False)
        self.assertEqual(SD.attn_flops(s), 4 * 32 * 1024 * 1024 * 128)      # 17,179,869,184
        self.assertEqual(SD.attn_flops(SD.AttnShape("prefill", 1, 32, 8, 1024, 1024, 128, True)),
                         2 * 32 * 1024 * 1024 * 128)
        # q and o: 32*1024*128 each, k and v: 8*1024*128 each, 2 bytes: 2*(2*4,194,304 + 2*1,048,576)
        self.assertEqual(SD.set_bytes(s), 20_971_520)
        self.assertEqual(SD.set_bytes(s, expand_kv=True), 2 * 4 * 4_194_304)

    def test_main_shapes_respect_caps_and_decode_rules(self):
        shapes = SD.main_shapes(False)
        self.assertGreater(len(shapes), 100)
        for s in shapes:
            self.assertLessEqual(SD.set_bytes(s), SD.MEM_CAP_BYTES)
            if s.phase == "decode":
                self.assertEqual(s.q_len, 1)
                self.assertFalse(s.causal, "q_len = 1 sees every key: never is_causal (top-left) for decode")
            else:
                self.assertEqual(s.q_len, s.kv_len)
                self.assertLessEqual(SD.attn_flops(s), SD.PREFILL_FLOP_CAP)
        heads = {(s.q_heads, s.kv_heads, s.head_dim) for s in shapes}
        self.assertEqual(heads, set(SD.MODEL_HEADS))
        self.assertIn(SD.AttnShape("decode", 64, 32, 8, 1, 131072, 128, False), shapes)   # 34 GB: kept
        self.assertIn(131072, {s.kv_len for s in shapes})
        self.assertIn(16384, {s.q_len for s in shapes if s.phase == "prefill"})

    def test_holdout_is_seeded_and_held_out(self):
        a, b = SD.holdout_shapes(40), SD.holdout_shapes(40)
        self.assertEqual(a, b)
        self.assertEqual(len(a), 40)
        main = set(SD.main_shapes(False))
        self.assertFalse(main & set(a))
        self.assertTrue(any(s.head_dim != 128 for s in a))
        self.assertNotEqual(SD.holdout_shapes(40, seed=1), a)

    def test_headdim_suite_covers_64_and_96_apart_from_the_holdout(self):
        shapes = SD.headdim_shapes(False)
        self.assertEqual({s.head_dim for s in shapes}, {64, 96})
        self.assertEqual({(s.q_heads, s.kv_heads, s.head_dim) for s in shapes}, set(SD.HEADDIM_HEADS))
        self.assertFalse(set(shapes) & set(SD.holdout_shapes(40)))   # the hold-out stays unseen
        self.assertFalse(set(shapes) & set(SD.main_shapes(False)))
        self.assertEqual({s.phase for s in shapes}, {"prefill", "decode"})
        cfgs = SD.build_headdim_configs(False)
        self.assertEqual(len(cfgs), 2 * len(shapes))
        for c in cfgs:
            self.assertEqual(c.suite, "sdpa_headdim")
            out = []
            CR.validate_workload(SD.workload(c), out, allow_pending=False)
            self.assertEqual(out, [], c)

    def test_sm_partition_measures_the_elementwise_suites_own_largest_configurations(self):
        import sm_partition as SP
        import elementwise as EW
        cfgs = SP.build_configs()
        self.assertEqual({c.kind for c in cfgs}, {k for k, *_ in SP.CASES})
        suite = set(EW.build_configs(False))
        for c in cfgs:
            self.assertIn(c, suite)   # the same kernels, labels and variants the fit saw
        self.assertEqual(SP.half_sms(132), 66)
        self.assertEqual(SP.half_sms(144), 72)
        self.assertEqual(SP.half_sms(78), 38)

    def test_every_fresh_suite_is_seeded_valid_and_disjoint_from_the_others_and_the_fitted_random_shapes(self):
        seen = set(SD.holdout_shapes(40)) | {c.shape for c in SD.build_random_configs(False, 160, 40)}
        self.assertEqual(SD.build_fresh_configs(False, 80, 40, 160),
                         SD.build_fresh_suite("sdpa_fresh", False, 80, 40, 160))
        for name, _ in SD.FRESH_SUITES:
            cfgs = SD.build_fresh_suite(name, False, 80, 40, 160)
            self.assertEqual(cfgs, SD.build_fresh_suite(name, False, 80, 40, 160))      # seeded
            shapes = [c.shape for c in cfgs[::2]]
            self.assertEqual(len(set(shapes)), 80, name)
            self.assertFalse(set(shapes) & seen, name)
            self.assertEqual({s.phase for s in shapes}, {"prefill", "decode"}, name)
            for c in cfgs:
                self.assertEqual(c.suite, name)
                out = []
                CR.validate_workload(SD.workload(c), out, allow_pending=False)
                self.assertEqual(out, [], c)
            seen |= set(shapes)
        with self.assertRaises(ValueError):
            SD.build_fresh_suite("sdpa_fresh9", False, 80, 40, 160)

    def test_random_suite_is_drawn_like_the_holdout_and_never_holds_a_holdout_shape(self):
        cfgs = SD.build_random_configs(False, 160, 40)
        shapes = [c.shape for c in cfgs[::2]]
        self.assertEqual(len(shapes), 160)
        self.assertEqual(cfgs, SD.build_random_configs(False, 160, 40))        # seeded
        self.assertFalse(set(shapes) & set(SD.holdout_shapes(40)))           # the hold-out stays unseen
        self.assertEqual({s.phase for s in shapes}, {"prefill", "decode"})
        self.assertEqual({s.head_dim for s in shapes}, {64, 96, 128})
        self.assertTrue(any(s.q_len % 64 for s in shapes if s.phase == "prefill"))   # odd lengths
        for c in cfgs:
            self.assertEqual(c.suite, "sdpa_random")
            out = []
            CR.validate_workload(SD.workload(c), out, allow_pending=False)
            self.assertEqual(out, [], c)

    def test_configs_and_workloads_are_valid(self):
        main, hold = SD.build_configs(False, 40)
        labels = {c.label for c in main}
        self.assertEqual(labels, {"torch_sdpa_flash", "torch_sdpa_cudnn", "torch_sdpa_mem_efficient"})
        for c in main + hold + SD.expanded_configs(main, "cudnn"):
            out = []
            CR.validate_workload(SD.workload(c), out, allow_pending=(c.backend == "efficient"))
            self.assertEqual(out, [], c)
        # the memory-efficient kernel name is pending in the C++ reader: rejected without the flag
        eff = next(c for c in main if c.backend == "efficient")
        out = []
        CR.validate_workload(SD.workload(eff), out)
        self.assertTrue(out and "not known to the C++ reader yet" in out[0], out)
        ex = SD.expanded_configs(main, "cudnn")
        self.assertTrue(ex and all(c.expand_kv and c.label == "torch_sdpa_cudnn_expandkv" for c in ex))
        self.assertTrue(all(SD.workload(c)["kv_heads"] == c.shape.q_heads for c in ex))

    def test_plan_within_budget(self):
        main, hold = SD.build_configs(False, 40)
        t = SD.plan_s(main) + SD.plan_s(hold)
        self.assertLess(t, 0.3 * 450)


class Models(unittest.TestCase):
    def test_flat_yaml_fallback_matches_yaml(self):
        for f in sorted(os.listdir(MS.MODELS_DIR)):
            with open(os.path.join(MS.MODELS_DIR, f), encoding="utf-8") as fh:
                text = fh.read()
            flat = MS._parse_flat_yaml(text, f)
            try:
                import yaml
            except ImportError:
                continue
            self.assertEqual(flat, yaml.safe_load(text), f)

    def test_flat_yaml_rejects_garbage(self):
        with self.assertRaises(ValueError):
            MS._parse_flat_yaml("name x\n", "bad.yaml")

    def test_load_models(self):
        m = MS.load_model("llama3-8b")
        self.assertEqual((m.hidden, m.layers, m.q_heads, m.kv_heads, m.head_dim, m.ffn, m.vocab),
                         (4096, 32, 32, 8, 128, 14336, 128256))
        self.assertIsNone(m.window)
        self.assertEqual(MS.load_model("mistral-7b").window, 4096)
        self.assertTrue(MS.load_model("qwen2.5-7b").qkv_bias)
        self.assertTrue(MS.load_model("mixtral-8x7b").moe)

    def test_weight_and_kv_bytes(self):
        m = MS.load_model("llama3-8b")
        # per layer 4096*(32+16)*128 + 4096*4096 + 3*4096*14336 = 218,103,808 params
        self.assertEqual(MS.linear_params_per_layer(m), 218_103_808)
        # 32*218,103,808*2 + 2*128256*4096*2 + 65*4096*2 = 16,060,522,496 B
        self.assertEqual(MS.weight_bytes(m, 32, "bf16"), 16_060_522_496)
        self.assertEqual(MS.weight_bytes(m, 32, "fp8_e4m3"), 16_060_522_496 - 32 * 218_103_808)
        # decode B=1 S=8192: 2 (K,V) * 32 layers * 8 heads * 8193 positions * 128 * 2 B
        sc = MS.StepConfig("llama3-8b", "decode", 1, 8192, "bf16")
        self.assertEqual(MS.kv_bytes(m, 32, sc), 1_073_872_896)
        self.assertEqual(MS.kv_len(m, sc), 8193)

    def test_window_kv_len(self):
        m = MS.load_model("mistral-7b")
        self.assertEqual(MS.kv_len(m, MS.StepConfig("mistral-7b", "decode", 1, 8192, "bf16")), 4096)
        self.assertEqual(MS.kv_len(m, MS.StepConfig("mistral-7b", "decode", 1, 2048, "bf16")), 2049)
        self.assertEqual(MS.kv_len(m, MS.StepConfig("mistral-7b", "prefill", 1, 2048, "bf16")), 2048)

    def test_skip_reasons(self):
        m = MS.load_model("llama3-8b")
        r = MS.skip_reason(m, 32, MS.StepConfig("llama3-8b", "decode", 1, 32768, "bf16"), 10 ** 12)
        self.assertIn("exceeds llama3-8b's max_context_tokens 8192", r)
        big = MS.load_model("llama3.1-405b")
        r = MS.skip_reason(big, 4, MS.StepConfig("llama3.1-405b", "decode", 128, 32768, "bf16"), 45 * 10 ** 9)
        self.assertIn("skipped: needs", r)
        self.assertIsNone(MS.skip_reason(m, 32, MS.StepConfig("llama3-8b", "decode", 8, 2048, "bf16"), 60 * 10 ** 9))

    def test_configs(self):
        cfgs = MS.build_configs(MS.MODEL_ORDER, False)
        for c in cfgs:
            out = []
            CR.validate_workload(MS.workload(c), out)
            self.assertEqual(out, [], c)
            self.assertLessEqual(c.tokens if c.phase == "prefill" else 0, MS.PREFILL_MAX_TOKENS)
            self.assertEqual("num_layers" in MS.workload(c), c.model in MS.REDUCED_LAYERS)
        for name in MS.MODEL_ORDER:  # bf16 before fp8 within a model (converted once)
            ws = [c.weights for c in cfgs if c.model == name]
            self.assertEqual(ws, sorted(ws, key=lambda w: w != "bf16"))
        # reduced models' weights fit 80 GB with room for the KV cache
        for name, L in MS.REDUCED_LAYERS.items():
            self.assertLess(MS.weight_bytes(MS.load_model(name), L, "bf16"), 40e9)

    def test_fresh_steps_are_valid_and_repeat_no_model_step_configuration(self):
        old = {(c.model, c.phase, c.batch, c.context) for c in MS.build_configs(MS.MODEL_ORDER, False)}
        fresh1 = MS.build_fresh_suite("model_step_fresh", MS.MODEL_ORDER, False)
        fresh2 = MS.build_fresh_suite("model_step_fresh2", MS.MODEL_ORDER, False)
        fresh3 = MS.build_fresh_suite("model_step_fresh3", MS.MODEL_ORDER, False)
        with self.assertRaises(ValueError):
            MS.build_fresh_suite("model_step_fresh9", MS.MODEL_ORDER, False)
        self.assertEqual(len(fresh1), 3 * (2 * 15 + 4 + 2))
        self.assertEqual(len(fresh2), 3 * (2 * 15 + 3 + 2))
        self.assertEqual(len(fresh3), 3 * (2 * 15 + 3 + 2))
        keys = [{(c.model, c.phase, c.batch, c.context) for c in f} for f in (fresh1, fresh2, fresh3)]
        self.assertFalse(keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
        for fresh in (fresh1, fresh2, fresh3):
            self._check_fresh(fresh, old)

    def _check_fresh(self, fresh, old):
        for c in fresh:
            out = []
            CR.validate_workload(MS.workload(c), out)
            self.assertEqual(out, [], c)
            self.assertNotIn((c.model, c.phase, c.batch, c.context), old)
        for name in MS.FRESH_MODELS:  # bf16 before fp8 within a model; every fp8 step has its bf16 twin
            ws = [c.weights for c in fresh if c.model == name]
            self.assertEqual(ws, sorted(ws, key=lambda w: w != "bf16"))
            bf16 = {(c.phase, c.batch, c.context) for c in fresh if c.model == name and c.weights == "bf16"}
            for c in fresh:
                if c.model == name and c.weights == "fp8_e4m3":
                    self.assertIn((c.phase, c.batch, c.context), bf16)
        t, n = MS.plan_s(fresh)
        self.assertGreater(n, 80)
        self.assertLess(t, 0.3 * 450)

    def test_plan_within_budget(self):
        t, n = MS.plan_s(MS.build_configs(MS.MODEL_ORDER, False))
        self.assertGreater(n, 150)
        self.assertLess(t, 0.65 * 450)
        tq, nq = MS.plan_s(MS.build_configs(["llama3-8b"], True))
        self.assertEqual(nq, 6)


class Elementwise(unittest.TestCase):
    def test_configs(self):
        cfgs = EW.build_configs(False)
        kinds = {c.kind for c in cfgs}
        self.assertEqual(kinds, set(CR.ELEMENTWISE_KINDS))
        for c in cfgs:
            out = []
            CR.validate_workload(EW.workload(c), out)
            self.assertEqual(out, [], c)
        rope = {c.cols for c in cfgs if c.kind == "rope"}
        self.assertEqual(rope, {5120, 4096, 9216, 17408})      # (HQ + HKV) * 128 of the four head configs
        self.assertEqual({c.rows for c in cfgs}, set(EW.ROWS))

    def test_set_bytes(self):
        # silu_mul reads gate and up, writes out: 3 x 2 B per element; 8 x 14336 -> 688,128 B
        self.assertEqual(EW.EwConfig("silu_mul", "x", 8, 14336).set_bytes(), 688_128)
        self.assertEqual(EW.EwConfig("quantize_fp8", "x", 1, 4096).set_bytes(), 3 * 4096)

    def test_plan(self):
        self.assertLess(EW.plan_s(EW.build_configs(False)), 0.2 * 450)


if __name__ == "__main__":
    unittest.main()
