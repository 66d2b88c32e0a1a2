package dev.comix.loss;

import static dev.comix.loss.TensorsForTests.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.comix.io.Npy;
import dev.comix.runtime.CpuOps;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Fixed inputs and the loss and gradient the original PyTorch formula gives for them (see
 * src/test/resources/dev/comix/loss/supcon-fixture/README.md for the command that made them).
 * float64 path: 1e-11 relative; float32 path: 1e-5.
 */
class SupConFixtureTest {
  static final String DIR = "/dev/comix/loss/supcon-fixture/";

  static Tensor npy(String name) {
    try (InputStream in = SupConFixtureTest.class.getResourceAsStream(DIR + name)) {
      return in == null ? null : Npy.read(in, name);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  static double json(String caseName, String key) {
    try (InputStream in = SupConFixtureTest.class.getResourceAsStream(DIR + caseName + ".json")) {
      String s = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      Matcher m = Pattern.compile("\"" + key + "\":\\s*([-0-9.eE+]+)").matcher(s);
      assertTrue(m.find(), key + " in " + caseName + ".json");
      return Double.parseDouble(m.group(1));
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  static Tensor toF32(Tensor t) {
    return f32(values(t), t.shape());
  }

  void check(String name, boolean normalize) {
    float tau = (float) json(name, "temperature"), tauB = (float) json(name, "base_temperature");
    double refLoss = json(name, "loss");
    SupConLoss loss = new SupConLoss(tau, tauB, normalize);
    try (Ops ops = new CpuOps(); Tensor f = npy(name + "_features.npy"); Tensor g = npy(name + "_grad.npy");
         Tensor lab = npy(name + "_labels.npy"); Tensor mask8 = npy(name + "_mask.npy")) {
      double[] ref = values(g);
      try (SupConLoss.Result r = loss.compute(ops, f, lab, mask8)) {
        assertEquals(refLoss, r.loss(), 1e-11 * Math.abs(refLoss), name + " float64 loss");
        assertTrue(SupConOracle.relErr(ref, values(r.grad())) <= 1e-11, name + " float64 gradient");
      }
      try (Tensor f32 = toF32(f); SupConLoss.Result r = loss.compute(ops, f32, lab, mask8)) {
        assertEquals(refLoss, r.loss(), 1e-5 * Math.abs(refLoss), name + " float32 loss");
        assertTrue(SupConOracle.relErr(ref, values(r.grad())) <= 1e-5, name + " float32 gradient");
      }
    }
  }

  @Test
  void comixBgmShape() {
    check("comix_bgm", false);
  }

  @Test
  void infoNceNormalisedThreeViews() {
    check("infonce_norm", true);
  }

  @Test
  void maskedPseudoLabels() {
    check("tpl_masked", false);
  }

  @Test
  void coMixObjective() {
    try (Ops ops = new CpuOps(); Tensor s64 = npy("comix_source_logits.npy"); Tensor t64 = npy("comix_target_logits.npy");
         Tensor y = npy("comix_source_labels.npy"); Tensor gs = npy("comix_source_grad.npy");
         Tensor gt = npy("comix_target_grad.npy"); Tensor s = toF32(s64); Tensor t = toF32(t64);
         CoMixLoss.Result r = new CoMixLoss(0.1f, 0.01f).compute(ops, s, t, y)) {
      assertEquals(DType.F32, r.sourceGrad().dtype());
      assertEquals(json("comix", "ce"), r.ce(), 1e-5 * json("comix", "ce"), "ce");
      assertEquals(json("comix", "bgm_source"), r.bgmSource(), 1e-5 * json("comix", "bgm_source"), "bgm source");
      assertEquals(json("comix", "bgm_target"), r.bgmTarget(), 1e-5 * json("comix", "bgm_target"), "bgm target");
      assertEquals(json("comix", "tpl"), r.tpl(), 1e-5 * json("comix", "tpl"), "tpl");
      assertEquals((int) json("comix", "confident"), r.confident(), "confident target videos");
      assertEquals(json("comix", "total"), r.total(), 1e-5 * json("comix", "total"), "total");
      double es = SupConOracle.relErr(values(gs), values(r.sourceGrad()));
      double et = SupConOracle.relErr(values(gt), values(r.targetGrad()));
      assertTrue(es <= 1e-5, "source gradient rel err " + es);
      assertTrue(et <= 1e-5, "target gradient rel err " + et);
    }
  }
}
