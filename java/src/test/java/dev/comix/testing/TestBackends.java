package dev.comix.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.comix.runtime.Backends;
import dev.comix.runtime.Device;
import dev.comix.runtime.Ops;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Backends for parametrised tests: "cpu" always; "cuda" runs only with -Dcomix.test.gpu=true
 * (scripts/gpu-check sets it on a GPU machine) and is reported skipped, with the reason,
 * elsewhere. Asked for and not usable, it fails: on the GPU machine no GPU test may skip.
 */
public final class TestBackends {
  private TestBackends() {}

  public static Stream<String> names() {
    return Stream.of("cpu", "cuda");
  }

  public static boolean gpuRequested() {
    return Boolean.getBoolean("comix.test.gpu");
  }

  public static Ops open(String name) {
    if (name.equals("cuda")) {
      assumeTrue(gpuRequested(), "GPU tests run only with -Dcomix.test.gpu=true (scripts/gpu-check on a GPU machine)");
      Backends.CudaStatus st = Backends.cuda();
      if (!st.available()) fail("comix.test.gpu=true but CUDA is not usable: " + st.reason());
      return Backends.open(Device.cuda(0), 0);
    }
    return Backends.open(Device.CPU, 0);
  }

  /** Why a GPU test is skipped off the GPU machine. */
  public static final String GPU_OFF = "GPU tests are off (run with -Dcomix.test.gpu=true on a GPU machine)";

  /**
   * A CUDA backend on device 0 when GPU tests are asked for (-Dcomix.test.gpu=true), else null (the
   * caller skips with {@link #GPU_OFF}). Asked for and not usable, it fails: on the GPU machine no
   * GPU test may skip.
   */
  public static dev.comix.runtime.CudaOps cudaOrNull() {
    if (!gpuRequested()) return null;
    Backends.CudaStatus st = Backends.cuda();
    if (!st.available()) fail("comix.test.gpu=true but CUDA is not usable: " + st.reason());
    return (dev.comix.runtime.CudaOps) Backends.open(Device.cuda(0), 0);
  }

  /** A fresh seed per run, printed so a failure can be replayed with -Dcomix.test.seed=N. */
  public static Random random(String what) {
    long seed = Long.getLong("comix.test.seed", System.nanoTime());
    System.out.println(what + ": seed " + seed);
    return new Random(seed);
  }
}
