package dev.comix.video;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The split files of the original code, read strictly: a malformed line is an error naming the
 * file and the line number.
 *
 * <ul>
 *   <li><b>Plain</b> (UCF-HMDB, Jester): no header, one {@code <video_folder_name>,<label>} per
 *       line, LF or CRLF line ends, blank lines ignored.
 *   <li><b>Epic-Kitchens</b> (the pandas pickles converted to CSV): a header naming at least
 *       {@code uid, video_id, start_frame, stop_frame} (the full table is {@code uid,
 *       participant_id, video_id, narration, start_timestamp, stop_timestamp, start_frame,
 *       stop_frame, verb, verb_class}); each row is the segment {@code sorted(frames of
 *       video_id)[start_frame:stop_frame]}, named {@code <video_id>_<uid>}, the folder name the
 *       CoMix Epic loader reads. The label is {@code verb_class} when present. Fields may be quoted
 *       ("a, b"), as pandas writes them.
 * </ul>
 */
public final class SplitCsv {
  /** One video of a split: output name, folder name under the base folder, frame range, label. */
  public record Entry(int line, String name, String folder, long from, long to, int label) {}

  private SplitCsv() {}

  /** Reads a plain or Epic split; rows are in file order. */
  public static List<Entry> read(Path csv) {
    List<String> lines = lines(csv);
    int first = 0;
    while (first < lines.size() && lines.get(first).isBlank()) first++;
    if (first == lines.size()) throw new ComixException("split file " + csv + " has no rows");
    List<String> head = fields(lines.get(first), csv, first + 1);
    return isEpicHeader(head) ? readEpic(csv, lines, first, head) : readPlain(csv, lines);
  }

  private static boolean isEpicHeader(List<String> f) {
    return f.contains("video_id") && f.contains("start_frame") && f.contains("stop_frame");
  }

  private static List<Entry> readPlain(Path csv, List<String> lines) {
    List<Entry> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i);
      if (l.isBlank()) continue;
      int no = i + 1;
      List<String> f = fields(l, csv, no);
      if (f.size() != 2)
        throw lineError(csv, no, "expected '<video_folder_name>,<label>', got '" + abbreviate(l) + "'");
      String name = f.get(0).strip();
      checkName(csv, no, name, "video folder name");
      int label = parseInt(csv, no, "label", f.get(1));
      out.add(new Entry(no, name, name, 0, -1, label));
    }
    return out;
  }

  private static List<Entry> readEpic(Path csv, List<String> lines, int headerIndex, List<String> header) {
    Map<String, Integer> col = new HashMap<>();
    for (int i = 0; i < header.size(); i++) col.putIfAbsent(header.get(i).strip(), i);
    if (!col.containsKey("uid"))
      throw lineError(csv, headerIndex + 1, "the Epic header has no 'uid' column");
    int cUid = col.get("uid"), cVid = col.get("video_id"), cStart = col.get("start_frame"), cStop = col.get("stop_frame");
    Integer cLabel = col.get("verb_class");
    List<Entry> out = new ArrayList<>();
    for (int i = headerIndex + 1; i < lines.size(); i++) {
      String l = lines.get(i);
      if (l.isBlank()) continue;
      int no = i + 1;
      List<String> f = fields(l, csv, no);
      if (f.size() != header.size())
        throw lineError(csv, no, "expected " + header.size() + " fields as in the header, got " + f.size());
      String uid = f.get(cUid).strip();
      String vid = f.get(cVid).strip();
      checkName(csv, no, uid, "uid");
      checkName(csv, no, vid, "video_id");
      long start = parseLong(csv, no, "start_frame", f.get(cStart));
      long stop = parseLong(csv, no, "stop_frame", f.get(cStop));
      if (start < 0 || stop <= start)
        throw lineError(csv, no, "segment [start_frame " + start + ", stop_frame " + stop + ") is empty or negative");
      int label = cLabel == null ? -1 : parseInt(csv, no, "verb_class", f.get(cLabel));
      out.add(new Entry(no, vid + "_" + uid, vid, start, stop, label));
    }
    if (out.isEmpty()) throw new ComixException("split file " + csv + " has a header but no rows");
    return out;
  }

  private static List<String> lines(Path csv) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(csv);
    } catch (NoSuchFileException e) {
      throw new ComixException("no such split file: " + csv);
    } catch (IOException e) {
      throw new ComixException("cannot read split file " + csv + ": " + ImageFiles.ioReason(e));
    }
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      throw new ComixException("split file " + csv + " is not UTF-8 text");
    }
    if (text.startsWith("\uFEFF")) text = text.substring(1);
    List<String> lines = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= text.length(); i++) {
      if (i == text.length() || text.charAt(i) == '\n') {
        int end = i;
        if (end > start && text.charAt(end - 1) == '\r') end--;
        if (i < text.length() || end > start) lines.add(text.substring(start, end));
        start = i + 1;
      }
    }
    return lines;
  }

  /** RFC 4180 fields of one line: commas separate, double quotes quote, "" is a quote. */
  static List<String> fields(String line, Path csv, int no) {
    List<String> f = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quoted) {
        if (c == '"') {
          if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
            cur.append('"');
            i++;
          } else {
            quoted = false;
          }
        } else {
          cur.append(c);
        }
      } else if (c == '"' && cur.toString().isBlank()) {
        quoted = true;
        cur.setLength(0);
      } else if (c == ',') {
        f.add(cur.toString());
        cur.setLength(0);
      } else {
        cur.append(c);
      }
    }
    if (quoted) throw lineError(csv, no, "unterminated quote");
    f.add(cur.toString());
    return f;
  }

  private static void checkName(Path csv, int no, String name, String what) {
    if (name.isEmpty()) throw lineError(csv, no, what + " is empty");
    if (name.equals(".") || name.equals("..") || name.indexOf('/') >= 0 || name.indexOf('\\') >= 0 || name.indexOf('\0') >= 0)
      throw lineError(csv, no, what + " '" + abbreviate(name) + "' must be a plain folder name");
  }

  private static int parseInt(Path csv, int no, String what, String s) {
    try {
      return Integer.parseInt(s.strip());
    } catch (NumberFormatException e) {
      throw lineError(csv, no, what + " '" + abbreviate(s.strip()) + "' is not an integer");
    }
  }

  private static long parseLong(Path csv, int no, String what, String s) {
    try {
      return Long.parseLong(s.strip());
    } catch (NumberFormatException e) {
      throw lineError(csv, no, what + " '" + abbreviate(s.strip()) + "' is not an integer");
    }
  }

  private static ComixException lineError(Path csv, int no, String msg) {
    return new ComixException("split file " + csv + ", line " + no + ": " + msg);
  }

  private static String abbreviate(String s) {
    String t = s.length() > 80 ? s.substring(0, 77) + "..." : s;
    return t.replaceAll("\\p{Cntrl}", "?");
  }

  static boolean looksLikeCsv(Path p) {
    String n = p.getFileName() == null ? "" : p.getFileName().toString().toLowerCase(Locale.ROOT);
    return n.endsWith(".csv") || n.endsWith(".txt");
  }
}
