package dev.comix.runtime;

/**
 * A failure comix can explain in one line: bad input, a native status, a missing device, out of
 * memory. The CLI prints {@link #getMessage()} alone unless --verbose is given.
 */
public class ComixException extends RuntimeException {
  public ComixException(String message) {
    super(message);
  }

  public ComixException(String message, Throwable cause) {
    super(message, cause);
  }
}
