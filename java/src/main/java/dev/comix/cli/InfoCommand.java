package dev.comix.cli;

import dev.comix.jni.ComixCpu;
import dev.comix.nn.gpu.Cudnn;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.Backends;
import dev.comix.runtime.CudaOps;
import dev.comix.runtime.Device;
import dev.comix.runtime.Ops;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `comix info`: versions, the backend that would be chosen, GPUs and why CUDA is or is not used. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Print versions, backends and GPUs.")
final class InfoCommand implements Callable<Integer> {
  @Option(names = "--device", description = "cpu, cuda or cuda:N (default: COMIX_DEVICE, else auto)")
  String device;

  @Option(names = "--verbose", description = "Print stack traces of errors.")
  boolean verbose;

  @Override
  public Integer call() throws Exception {
    System.out.println("comix " + VersionProvider.VERSION);
    System.out.println("Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + "), "
        + System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", "
        + Runtime.getRuntime().availableProcessors() + " CPU threads");
    System.out.println("native: " + ComixCpu.comix_cpu_version().getString() + ", CPU median ISA "
        + ComixCpu.comix_median_cpu_isa().getString());
    System.out.println("JavaCPP " + org.bytedeco.javacpp.Loader.getVersion());
    for (String line : Backends.report()) System.out.println(line);
    Device d = Backends.choose(device);
    try (Ops ops = Backends.open(d, 0)) {
      System.out.println("backend: " + ops.describe());
      if (ops instanceof CudaOps) {
        // the libraries the GPU layers and SupCon's GEMM path need (PyTorch's venv has them)
        String blas = CudaOps.cublasUnavailableReason();
        System.out.println("cuBLAS: " + (blas == null ? "usable" : blas));
        try {
          System.out.println("cuDNN: " + Cudnn.version());
        } catch (RuntimeException e) {
          System.out.println("cuDNN: not usable: " + e.getMessage());
        }
        // the GPU layers' settings as a new GpuContext would take them (environment variables)
        try {
          System.out.println("GPU layers: convolutions on cuDNN's " + lower(dev.comix.nn.gpu.ConvApi.fromEnvironment())
              + " API, precision " + lower(GpuContext.defaultPrecision()) + ", conv layout "
              + lower(GpuContext.defaultConvLayout()) + ", micro-batch " + GpuContext.defaultMicroBatch()
              + ", padded input channels " + ("1".equals(System.getenv("COMIX_GPU_PAD_CHANNELS")) ? "on" : "off")
              + ", strict-F32 few-channel convs (Conv3d_1a) as im2col + cuBLAS SGEMM "
              + (dev.comix.nn.gpu.GemmConv3d.enabled() ? "on" : "off (COMIX_GPU_GEMM_CONV=0)"));
          System.out.println("GPU convolution search: " + dev.comix.nn.gpu.CudnnConv3d.searchSettings());
        } catch (RuntimeException e) {
          System.out.println("GPU layers: " + e.getMessage());
        }
      }
    }
    return 0;
  }

  private static String lower(Enum<?> e) {
    return e.name().toLowerCase(java.util.Locale.ROOT);
  }
}
