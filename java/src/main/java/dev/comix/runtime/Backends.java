package dev.comix.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Backend choice, in one place. CUDA is used when its classes load and a device answers, else
 * the CPU; {@code --device cpu|cuda[:n]} or the {@code COMIX_DEVICE} environment variable
 * override. The cuda preset is probed once per JVM: on a machine without a driver its loading
 * throws and leaves the class unusable, so nothing else may touch it before {@link #cuda()}.
 */
public final class Backends {
  /** What the CUDA probe found. {@code available} is true when a device answered. */
  public record CudaStatus(boolean available, String reason, int deviceCount, List<String> devices,
                           String driverVersion, String runtimeVersion) {}

  private static CudaStatus cudaStatus;

  private Backends() {}

  /** Probes the CUDA runtime once (thread-safe) and remembers why it can or cannot be used. */
  public static synchronized CudaStatus cuda() {
    if (cudaStatus == null) cudaStatus = probe();
    return cudaStatus;
  }

  private static CudaStatus probe() {
    if ("1".equals(System.getenv("COMIX_NO_CUDA")))
      return new CudaStatus(false, "disabled by COMIX_NO_CUDA=1", 0, List.of(), "-", "-");
    try {
      Class.forName("org.bytedeco.cuda.global.cudart", true, Backends.class.getClassLoader());
    } catch (Throwable t) {
      return new CudaStatus(false, "CUDA runtime not loadable (no NVIDIA driver or libcudart.so.13 on this machine): "
          + firstLine(t), 0, List.of(), "-", "-");
    }
    return CudaProbe.run();
  }

  static String firstLine(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) root = root.getCause();
    String m = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }

  /** The device named by {@code spec} (null or "auto": COMIX_DEVICE, else CUDA if usable, else CPU). */
  public static Device choose(String spec) {
    String s = spec;
    if (s == null || s.isBlank() || s.equalsIgnoreCase("auto")) s = System.getenv("COMIX_DEVICE");
    if (s == null || s.isBlank() || s.equalsIgnoreCase("auto")) return cuda().available() ? Device.cuda(0) : Device.CPU;
    Device d = Device.parse(s);
    if (d.isCuda()) {
      CudaStatus st = cuda();
      if (!st.available()) throw new ComixException("device " + d + " requested but CUDA is not usable: " + st.reason());
      if (d.index() >= st.deviceCount())
        throw new ComixException("device " + d + " requested but only " + st.deviceCount() + " CUDA device(s) exist");
    }
    return d;
  }

  /** Opens the backend for a device; {@code threads} applies to the CPU backend (<= 0: all). */
  public static Ops open(Device device, int threads) {
    if (!device.isCuda()) return new CpuOps(threads);
    CudaStatus st = cuda();
    if (!st.available()) throw new ComixException("CUDA is not usable: " + st.reason());
    return CudaProbe.open(device.index());
  }

  public static Ops open(String spec, int threads) {
    return open(choose(spec), threads);
  }

  /** Human-readable lines for `comix info`. */
  public static List<String> report() {
    CudaStatus st = cuda();
    List<String> lines = new ArrayList<>();
    lines.add("CUDA: " + (st.available() ? "usable" : "not used") + " (" + st.reason() + ")");
    lines.add("CUDA driver " + st.driverVersion() + ", runtime " + st.runtimeVersion());
    for (int i = 0; i < st.devices().size(); i++) lines.add(String.format(Locale.ROOT, "  cuda:%d %s", i, st.devices().get(i)));
    return lines;
  }
}
