package dev.comix.runtime;

import dev.comix.jni.ComixCpu;

/** Turns a native status code into an exception naming the op. */
public final class NativeStatus {
  private NativeStatus() {}

  public static void check(int status, String op) {
    if (status == 0) return;
    String text = ComixCpu.comix_error_string(status).getString();
    if (status == -2) throw new ComixException(op + ": out of memory (" + text + ")");
    throw new ComixException(op + " failed: " + text + " (status " + status + ")");
  }
}
