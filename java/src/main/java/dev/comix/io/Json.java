package dev.comix.io;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict, small JSON reader and string writer for file headers (package-private). Objects
 * become {@link LinkedHashMap}s (duplicate keys are an error), arrays {@link List}s, integers
 * {@link BigInteger}, other numbers {@link BigDecimal}, plus String, Boolean and {@link #NULL}.
 */
final class Json {
  static final Object NULL = new Object() {
    @Override
    public String toString() {
      return "null";
    }
  };
  private static final int MAX_DEPTH = 64;

  /** A syntax error with the offset where it was found. */
  static final class SyntaxError extends Exception {
    SyntaxError(String msg) {
      super(msg);
    }
  }

  private final String s;
  private int i;

  private Json(String s) {
    this.s = s;
  }

  static Object parse(String text) throws SyntaxError {
    Json j = new Json(text);
    j.ws();
    Object v = j.value(0);
    j.ws();
    if (j.i != text.length()) throw j.error("unexpected text after the value");
    return v;
  }

  private SyntaxError error(String msg) {
    return new SyntaxError(msg + " at offset " + i);
  }

  private void ws() {
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') i++;
      else break;
    }
  }

  private Object value(int depth) throws SyntaxError {
    if (depth > MAX_DEPTH) throw error("nested too deeply");
    if (i >= s.length()) throw error("unexpected end");
    char c = s.charAt(i);
    switch (c) {
      case '{': {
        i++;
        Map<String, Object> m = new LinkedHashMap<>();
        ws();
        if (peek('}')) return m;
        while (true) {
          ws();
          if (i >= s.length() || s.charAt(i) != '"') throw error("expected a string key");
          String k = string();
          ws();
          expect(':');
          ws();
          Object v = value(depth + 1);
          if (m.containsKey(k)) throw error("duplicate key \"" + k + "\"");
          m.put(k, v);
          ws();
          if (peek('}')) return m;
          expect(',');
        }
      }
      case '[': {
        i++;
        List<Object> l = new ArrayList<>();
        ws();
        if (peek(']')) return l;
        while (true) {
          ws();
          l.add(value(depth + 1));
          ws();
          if (peek(']')) return l;
          expect(',');
        }
      }
      case '"':
        return string();
      case 't':
        literal("true");
        return Boolean.TRUE;
      case 'f':
        literal("false");
        return Boolean.FALSE;
      case 'n':
        literal("null");
        return NULL;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        throw error("unexpected character '" + c + "'");
    }
  }

  private boolean peek(char c) {
    if (i < s.length() && s.charAt(i) == c) {
      i++;
      return true;
    }
    return false;
  }

  private void expect(char c) throws SyntaxError {
    if (!peek(c)) throw error("expected '" + c + "'");
  }

  private void literal(String w) throws SyntaxError {
    if (!s.startsWith(w, i)) throw error("bad literal");
    i += w.length();
  }

  private Object number() throws SyntaxError {
    int start = i;
    peek('-');
    if (peek('0')) {
      // a leading zero stands alone
    } else if (i < s.length() && s.charAt(i) >= '1' && s.charAt(i) <= '9') {
      while (i < s.length() && Character.isDigit(s.charAt(i))) i++;
    } else {
      throw error("bad number");
    }
    boolean integer = true;
    if (peek('.')) {
      integer = false;
      int d = i;
      while (i < s.length() && Character.isDigit(s.charAt(i))) i++;
      if (i == d) throw error("bad number");
    }
    if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
      integer = false;
      i++;
      if (!peek('+')) peek('-');
      int d = i;
      while (i < s.length() && Character.isDigit(s.charAt(i))) i++;
      if (i == d) throw error("bad number");
    }
    String t = s.substring(start, i);
    if (t.length() > 400) throw error("number too long");
    return integer ? new BigInteger(t) : new BigDecimal(t);
  }

  private String string() throws SyntaxError {
    i++; // opening quote
    StringBuilder b = new StringBuilder();
    while (true) {
      if (i >= s.length()) throw error("unterminated string");
      char c = s.charAt(i++);
      if (c == '"') return b.toString();
      if (c < 0x20) throw error("control character in a string");
      if (c != '\\') {
        b.append(c);
        continue;
      }
      if (i >= s.length()) throw error("unterminated string");
      char e = s.charAt(i++);
      switch (e) {
        case '"', '\\', '/' -> b.append(e);
        case 'b' -> b.append('\b');
        case 'f' -> b.append('\f');
        case 'n' -> b.append('\n');
        case 'r' -> b.append('\r');
        case 't' -> b.append('\t');
        case 'u' -> {
          if (i + 4 > s.length()) throw error("bad \\u escape");
          try {
            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
          } catch (NumberFormatException x) {
            throw error("bad \\u escape");
          }
          i += 4;
        }
        default -> throw error("bad escape \\" + e);
      }
    }
  }

  /** A JSON string literal (quotes included) for {@code v}. */
  static String quote(String v) {
    StringBuilder b = new StringBuilder(v.length() + 2).append('"');
    for (int k = 0; k < v.length(); k++) {
      char c = v.charAt(k);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }
}
