package dev.comix.cli;

import dev.comix.io.SafeTensors;
import dev.comix.io.StateDict;
import dev.comix.io.StateDicts;
import dev.comix.runtime.ComixException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `comix weights convert|info`: PyTorch checkpoints to safetensors, and what a weight file holds. */
@Command(name = "weights", mixinStandardHelpOptions = true,
    description = "Convert PyTorch .pt state dicts to safetensors and list what weight files hold.",
    subcommands = {WeightsCommand.Convert.class, WeightsCommand.Info.class})
final class WeightsCommand implements Callable<Integer> {
  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: convert or info");
  }

  static StateDict read(Path file, boolean stripModulePrefix) {
    return StateDicts.read(file, stripModulePrefix);
  }

  private static boolean isSafetensors(Path file) {
    return StateDicts.isSafetensors(file);
  }

  @Command(name = "convert", mixinStandardHelpOptions = true,
      description = "Convert a PyTorch state dict (.pt, zip or legacy format) to safetensors, atomically.")
  static final class Convert implements Callable<Integer> {
    @Option(names = "--input", required = true, description = "PyTorch .pt state dict (or a .safetensors file)")
    Path input;

    @Option(names = "--output", required = true, description = "the .safetensors file to write")
    Path output;

    @Option(names = "--strip-module-prefix", description = "Remove a DataParallel 'module.' prefix (when every name has it).")
    boolean strip;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    @Override
    public Integer call() {
      if (input.toAbsolutePath().normalize().equals(output.toAbsolutePath().normalize()))
        throw new ComixException("weights convert: --output is the same file as --input");
      try (StateDict sd = read(input, false)) {
        boolean stripped = strip && sd.stripModulePrefixIfAll();
        if (strip && !stripped) System.err.println("comix: note: not every name starts with 'module.'; names kept as they are");
        sd.metadata().putIfAbsent("format", "pt");
        SafeTensors.write(output, sd);
        System.out.println("wrote " + output + ": " + sd.size() + " tensors, " + sd.parameterCount() + " elements"
            + (stripped ? " ('module.' prefix stripped)" : ""));
      }
      return 0;
    }
  }

  @Command(name = "info", mixinStandardHelpOptions = true,
      description = "List the tensors of a .pt or .safetensors file: name, dtype, shape; then totals.")
  static final class Info implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "a .pt or .safetensors file")
    Path file;

    @Option(names = "--verbose", description = "Print stack traces of errors.")
    boolean verbose;

    @Override
    public Integer call() {
      if (Files.isRegularFile(file) && isSafetensors(file)) { // the header says it all: leave the data on disk
        SafeTensors.Header h = SafeTensors.readHeader(file);
        int w = 1;
        long params = 0, bytes = 0;
        boolean allModule = !h.tensors().isEmpty();
        for (SafeTensors.Spec s : h.tensors()) w = Math.max(w, s.name().length());
        for (SafeTensors.Spec s : h.tensors()) {
          System.out.printf(Locale.ROOT, "%-" + w + "s  %-4s  %s%n", s.name(), s.dtype(), Arrays.toString(s.shape()));
          params += (s.end() - s.begin()) / s.dtype().size();
          bytes += s.end() - s.begin();
          allModule &= s.name().startsWith("module.");
        }
        System.out.println(h.tensors().size() + " tensors, " + params + " parameters, " + bytes + " bytes"
            + (allModule ? "; every name has a 'module.' prefix" : ""));
        if (!h.metadata().isEmpty()) System.out.println("metadata: " + h.metadata());
        return 0;
      }
      try (StateDict sd = read(file, false)) {
        int w = 0;
        for (String n : sd.names()) w = Math.max(w, n.length());
        for (StateDict.Entry e : sd.entries())
          System.out.printf(Locale.ROOT, "%-" + Math.max(1, w) + "s  %-4s  %s%n", e.name(), e.dtype(), Arrays.toString(e.shape()));
        long bytes = 0;
        for (StateDict.Entry e : sd.entries()) bytes += e.tensor().byteSize();
        System.out.println(sd.size() + " tensors, " + sd.parameterCount() + " parameters, " + bytes + " bytes"
            + (sd.allNamesStartWith("module.") ? "; every name has a 'module.' prefix" : ""));
        if (!sd.metadata().isEmpty()) System.out.println("metadata: " + sd.metadata());
      }
      return 0;
    }
  }
}
