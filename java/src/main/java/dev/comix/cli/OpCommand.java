package dev.comix.cli;

import dev.comix.io.Npy;
import dev.comix.loss.SupConLoss;
import dev.comix.runtime.Backends;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Device;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.BytePointer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `comix op ...`: run single kernels on .npy inputs, to check comix against another framework. */
@Command(name = "op", mixinStandardHelpOptions = true, description = "Run one op on .npy inputs.",
    subcommands = {OpCommand.SupCon.class})
final class OpCommand {

  /** `comix op supcon`: SupCon / InfoNCE loss and gradient. */
  @Command(name = "supcon", mixinStandardHelpOptions = true,
      description = {"Supervised-contrastive (SupCon) loss and its gradient, COMIX-SPEC 4.0 semantics;",
          "without --labels each sample is its own class (InfoNCE / NT-Xent).",
          "Prints the loss; writes dL/dfeatures with --grad (same dtype as the features)."})
  static final class SupCon implements Callable<Integer> {
    @Option(names = "--features", required = true, description = "features [N, V, D], float32 or float64 .npy")
    Path features;

    @Option(names = "--labels", description = "labels [N], int32 or int64 .npy (default: none = InfoNCE)")
    Path labels;

    @Option(names = "--mask", description = "samples to keep [N], bool/uint8/int .npy (0 = leave out)")
    Path mask;

    @Option(names = "--temperature", defaultValue = "0.5", description = "temperature tau (default ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--base_temperature", defaultValue = "0.07",
        description = "base temperature; the loss is scaled by tau / base (default ${DEFAULT-VALUE})")
    float baseTemperature;

    @Option(names = "--normalize", description = "L2-normalise the feature vectors first (F.normalize)")
    boolean normalize;

    @Option(names = "--view_major", description = "features are [V, N, D] instead of [N, V, D]")
    boolean viewMajor;

    @Option(names = "--grad", description = "write dL/dfeatures here (.npy)")
    Path grad;

    @Option(names = "--device", description = "cpu, cuda or cuda:N (default: COMIX_DEVICE, else auto)")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0: all)")
    int threads;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    @Override
    public Integer call() {
      try (Tensor f = Npy.read(features); Tensor lab = labels == null ? null : Npy.read(labels);
           Tensor msk = mask == null ? null : Npy.read(mask)) {
        if (f.dtype() != DType.F32 && f.dtype() != DType.F64)
          throw new ComixException("features must be float32 or float64, got " + f.dtype());
        if (f.rank() != 3)
          throw new ComixException("features must be [N, V, D] (rank 3), got shape " + Arrays.toString(f.shape()));
        long n = viewMajor ? f.dim(1) : f.dim(0);
        try (Tensor lab64 = lab == null ? null : labelsAsI64(lab, n); Tensor msk8 = msk == null ? null : maskAsU8(msk, n)) {
          Device d = Backends.choose(device);
          try (Ops ops = Backends.open(d, threads)) {
            SupConLoss loss = new SupConLoss(temperature, baseTemperature, normalize).viewMajor(viewMajor);
            boolean convert = d.isCuda() && f.dtype() == DType.F64;  // the GPU path is float32
            try (Tensor hf = convert ? convert(f, DType.F32) : null) {
              Tensor hostF = hf != null ? hf : f;
              try (Tensor df = d.isCuda() ? ops.toDevice(hostF) : null;
                   Tensor dl = d.isCuda() && lab64 != null ? ops.toDevice(lab64) : null;
                   Tensor dm = d.isCuda() && msk8 != null ? ops.toDevice(msk8) : null) {
                if (d.isCuda()) checkFinite(hostF);
                Tensor inF = df != null ? df : hostF;
                try (SupConLoss.Result r = loss.compute(ops, inF, dl != null ? dl : lab64, dm != null ? dm : msk8)) {
                  System.out.println("loss " + repr(r.loss(), inF.dtype()));
                  if (grad != null) {
                    try (Tensor hg = d.isCuda() ? ops.toHost(r.grad()) : null) {
                      Tensor g = hg != null ? hg : r.grad();
                      try (Tensor out = g.dtype() != f.dtype() ? convert(g, f.dtype()) : null) {
                        Npy.write(grad, out != null ? out : g);
                      }
                    }
                    System.err.println("gradient " + Arrays.toString(f.shape()) + " " + f.dtype() + " written to " + grad);
                  }
                }
              }
            }
          }
        }
      }
      return 0;
    }

    /** Shortest text that round-trips the double (a float result prints its exact value). */
    private static String repr(double v, DType computed) {
      return Double.toString(v);
    }

    private static void checkFinite(Tensor t) {
      float[] v = t.toFloats();
      for (int i = 0; i < v.length; i++)
        if (!Float.isFinite(v[i])) throw new ComixException("supCon: features hold " + v[i] + " at flat index " + i);
    }
  }

  static Tensor labelsAsI64(Tensor lab, long n) {
    if (lab.numel() != n)
      throw new ComixException("labels have " + lab.numel() + " entries for N = " + n + " samples");
    Tensor out = Tensor.host(DType.I64, n);
    BytePointer src = lab.data(), dst = out.data();
    for (long i = 0; i < n; i++) {
      long v = switch (lab.dtype()) {
        case I64 -> src.getLong(i * 8);
        case I32 -> src.getInt(i * 4);
        case U8 -> src.get(i) & 0xff;
        default -> {
          out.close();
          throw new ComixException("labels must be integers (int32 or int64), got " + lab.dtype());
        }
      };
      dst.putLong(i * 8, v);
    }
    return out;
  }

  static Tensor maskAsU8(Tensor m, long n) {
    if (m.numel() != n) throw new ComixException("mask has " + m.numel() + " entries for N = " + n + " samples");
    Tensor out = Tensor.host(DType.U8, n);
    BytePointer src = m.data(), dst = out.data();
    for (long i = 0; i < n; i++) {
      boolean keep = switch (m.dtype()) {
        case U8 -> src.get(i) != 0;
        case I32 -> src.getInt(i * 4) != 0;
        case I64 -> src.getLong(i * 8) != 0;
        case F32 -> src.getFloat(i * 4) != 0f;
        case F64 -> src.getDouble(i * 8) != 0.0;
        default -> {
          out.close();
          throw new ComixException("mask must be bool, integer or float, got " + m.dtype());
        }
      };
      dst.put(i, (byte) (keep ? 1 : 0));
    }
    return out;
  }

  /** F32 <-> F64 copy of a host tensor. */
  static Tensor convert(Tensor t, DType to) {
    Tensor out = Tensor.host(to, t.shape());
    BytePointer src = t.data(), dst = out.data();
    long n = t.numel();
    if (t.dtype() == DType.F64 && to == DType.F32) for (long i = 0; i < n; i++) dst.putFloat(i * 4, (float) src.getDouble(i * 8));
    else if (t.dtype() == DType.F32 && to == DType.F64) for (long i = 0; i < n; i++) dst.putDouble(i * 8, src.getFloat(i * 4));
    else {
      out.close();
      throw new ComixException("cannot convert " + t.dtype() + " to " + to);
    }
    return out;
  }
}
