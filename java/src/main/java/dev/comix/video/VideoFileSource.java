package dev.comix.video;

import static org.bytedeco.ffmpeg.global.avcodec.AVDISCARD_ALL;
import static org.bytedeco.ffmpeg.global.avcodec.AV_PKT_FLAG_CORRUPT;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_alloc;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_free;
import static org.bytedeco.ffmpeg.global.avcodec.av_packet_unref;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_alloc_context3;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_find_decoder;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_free_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_get_name;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_open2;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_parameters_to_context;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_receive_frame;
import static org.bytedeco.ffmpeg.global.avcodec.avcodec_send_packet;
import static org.bytedeco.ffmpeg.global.avformat.av_find_best_stream;
import static org.bytedeco.ffmpeg.global.avformat.av_read_frame;
import static org.bytedeco.ffmpeg.global.avformat.avformat_close_input;
import static org.bytedeco.ffmpeg.global.avformat.avformat_find_stream_info;
import static org.bytedeco.ffmpeg.global.avformat.avformat_open_input;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_EOF;
import static org.bytedeco.ffmpeg.global.avutil.AVERROR_INVALIDDATA;
import static org.bytedeco.ffmpeg.global.avutil.AVMEDIA_TYPE_VIDEO;
import static org.bytedeco.ffmpeg.global.avutil.AV_LOG_ERROR;
import static org.bytedeco.ffmpeg.global.avutil.AV_LOG_QUIET;
import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_RGB24;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_alloc;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_free;
import static org.bytedeco.ffmpeg.global.avutil.av_frame_unref;
import static org.bytedeco.ffmpeg.global.avutil.av_get_pix_fmt_name;
import static org.bytedeco.ffmpeg.global.avutil.av_log_set_level;
import static org.bytedeco.ffmpeg.global.avutil.av_strerror;
import static org.bytedeco.ffmpeg.global.swscale.SWS_BICUBIC;
import static org.bytedeco.ffmpeg.global.swscale.sws_freeContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_getCachedContext;
import static org.bytedeco.ffmpeg.global.swscale.sws_scale;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVCodecParameters;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.swscale.SwsContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.opencv.opencv_core.Mat;

/**
 * Frames of a video file through FFmpeg: demux, decode (send/receive API, flushed at the end),
 * swscale to RGB24 at the native size with SWS_BICUBIC and a packed (align 1) destination, as
 * OpenCV's cv2.VideoCapture does, then an optional OpenCV resize.
 *
 * <p>Every FFmpeg return code is checked. A file is rejected, with a line naming it, when it is
 * empty, cannot be opened, has no video stream or decoder, is truncated (a short packet, an AVI
 * whose RIFF header declares more bytes than the file has, an MP4/MOV with fewer samples than
 * its index lists), or decodes to no frame at all. Packets the decoder rejects as invalid and
 * frames it marks as concealed are kept going past, like cv2, and reported by {@link #warnings()}.
 */
final class VideoFileSource implements FrameSource {
  private static final int EAGAIN = -11; // AVERROR(EAGAIN); the preset has no constant for it
  private static final int AV_FRAME_FLAG_CORRUPT = 1; // 1 << 0 in libavutil/frame.h
  private static final int FF_DECODE_ERROR_INVALID_BITSTREAM = 1;
  private static final int FF_DECODE_ERROR_CONCEALMENT_ACTIVE = 4;

  private final Path file;
  private final int size;
  private final long from;
  private final long to;
  private final int nativeWidth;
  private final int nativeHeight;
  private final int width;
  private final int height;
  private final long hint;
  private final long expectedPackets; // MP4/MOV: samples in the index, else -1

  private AVFormatContext fmt;
  private AVCodecContext dec;
  private AVPacket pkt;
  private AVFrame frame;
  private SwsContext sws;
  private int swsW = -1, swsH = -1, swsFmt = -1;
  private BytePointer rgbNative;
  private final PointerPointer<BytePointer> dstData = new PointerPointer<>(4);
  private final IntPointer dstLines = new IntPointer(4);
  private final int streamIndex;
  private long packets;
  private long decoded; // frames received from the decoder
  private long rejectedPackets;
  private long concealedFrames;
  private boolean inputDone;
  private boolean finished;

  static void setLogging(boolean on) {
    av_log_set_level(on ? AV_LOG_ERROR : AV_LOG_QUIET);
  }

  static {
    setLogging(false);
  }

  VideoFileSource(Path file, int size, long from, long to, int decodeThreads) {
    this.file = file;
    this.size = size;
    this.from = from;
    this.to = to;
    long bytes;
    try {
      bytes = Files.size(file);
    } catch (IOException e) {
      throw new ComixException("cannot read video " + file + ": " + ImageFiles.ioReason(e));
    }
    if (bytes == 0) throw new ComixException("empty video file " + file + " (0 bytes)");
    if (!Files.isReadable(file)) throw new ComixException("cannot read video " + file + ": permission denied");
    checkRiff(file, bytes);
    boolean ok = false;
    try {
      fmt = new AVFormatContext(null);
      int r;
      try (BytePointer url = new BytePointer(file.toString(), StandardCharsets.UTF_8)) {
        r = avformat_open_input(fmt, url, null, (AVDictionary) null);
      }
      if (r < 0) {
        fmt = null; // FFmpeg freed it
        throw fail("cannot open video", r);
      }
      r = avformat_find_stream_info(fmt, (PointerPointer<?>) null);
      if (r < 0) throw fail("cannot read the streams of video", r);
      int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, (AVCodec) null, 0);
      if (si < 0) throw new ComixException("no video stream in " + file);
      streamIndex = si;
      for (int i = 0; i < fmt.nb_streams(); i++) if (i != si) fmt.streams(i).discard(AVDISCARD_ALL);
      AVStream st = fmt.streams(si);
      AVCodecParameters par = st.codecpar();
      AVCodec codec = avcodec_find_decoder(par.codec_id());
      if (codec == null || codec.isNull())
        throw new ComixException("no decoder for codec '" + avcodec_get_name(par.codec_id()).getString() + "' in " + file);
      dec = avcodec_alloc_context3(codec);
      if (dec == null || dec.isNull()) throw new ComixException("out of memory opening " + file);
      r = avcodec_parameters_to_context(dec, par);
      if (r < 0) throw fail("cannot set up the decoder for", r);
      dec.thread_count(Math.max(1, decodeThreads));
      r = avcodec_open2(dec, codec, (AVDictionary) null);
      if (r < 0) throw fail("cannot open the " + avcodec_get_name(par.codec_id()).getString() + " decoder for", r);
      nativeWidth = par.width();
      nativeHeight = par.height();
      if (nativeWidth < 1 || nativeHeight < 1 || nativeWidth > Cv.MAX_SIDE || nativeHeight > Cv.MAX_SIDE)
        throw new ComixException("video " + file + " has an unusable frame size " + nativeWidth + "x" + nativeHeight);
      width = size > 0 ? size : nativeWidth;
      height = size > 0 ? size : nativeHeight;
      long nb = st.nb_frames();
      long end = nb > 0 ? (to < 0 ? nb : Math.min(to, nb)) : -1;
      hint = end < 0 ? -1 : Math.max(0, end - from);
      String fmtName = fmt.iformat() == null || fmt.iformat().name() == null ? "" : fmt.iformat().name().getString();
      expectedPackets = fmtName.contains("mp4") || fmtName.contains("mov") ? nb : -1;
      pkt = av_packet_alloc();
      frame = av_frame_alloc();
      if (pkt == null || pkt.isNull() || frame == null || frame.isNull()) throw new ComixException("out of memory opening " + file);
      ok = true;
    } finally {
      if (!ok) close();
    }
  }

  @Override
  public int width() {
    return width;
  }

  @Override
  public int height() {
    return height;
  }

  @Override
  public long frameCountHint() {
    return hint;
  }

  @Override
  public boolean next(byte[] rgb) {
    if ((long) width * height * 3 != rgb.length)
      throw new ComixException("frame buffer has " + rgb.length + " bytes, expected " + (long) width * height * 3);
    if (finished) return false;
    if (fmt == null) throw new ComixException("video " + file + " is closed");
    while (true) {
      int r = avcodec_receive_frame(dec, frame);
      if (r >= 0) {
        long index = decoded++;
        if ((frame.flags() & AV_FRAME_FLAG_CORRUPT) != 0
            || (frame.decode_error_flags() & (FF_DECODE_ERROR_INVALID_BITSTREAM | FF_DECODE_ERROR_CONCEALMENT_ACTIVE)) != 0)
          concealedFrames++;
        try {
          if (index < from) continue;
          if (to >= 0 && index >= to) {
            finished = true;
            return false;
          }
          convert(rgb, index);
          return true;
        } finally {
          av_frame_unref(frame);
        }
      }
      if (r == AVERROR_EOF()) {
        finished = true;
        if (decoded == 0) throw new ComixException("no frame could be decoded from " + file + describeRejected());
        return false;
      }
      if (r != EAGAIN) throw fail("decoding failed at frame " + decoded + " of", r);
      if (inputDone) { // the decoder wants input after the flush: treat as the end
        finished = true;
        return false;
      }
      feed();
    }
  }

  /** Sends the next packet of our stream to the decoder, or the flush at the end of the file. */
  private void feed() {
    while (true) {
      int r = av_read_frame(fmt, pkt);
      if (r == AVERROR_EOF()) {
        if (expectedPackets > 0 && packets < expectedPackets)
          throw new ComixException("video " + file + " is truncated: " + packets + " of the " + expectedPackets
              + " frames its index lists are present");
        int s = avcodec_send_packet(dec, null);
        if (s < 0 && s != AVERROR_EOF()) throw fail("cannot flush the decoder of", s);
        inputDone = true;
        return;
      }
      if (r < 0) throw fail("read error after frame " + decoded + " of", r);
      try {
        if (pkt.stream_index() != streamIndex) continue;
        packets++;
        if ((pkt.flags() & AV_PKT_FLAG_CORRUPT) != 0)
          throw new ComixException("video " + file + " is truncated or corrupt at frame " + (packets - 1)
              + " (the container holds fewer bytes than it declares)");
        int s = avcodec_send_packet(dec, pkt);
        if (s == AVERROR_INVALIDDATA()) {
          rejectedPackets++; // like cv2: skip the packet, keep decoding
        } else if (s < 0) {
          throw fail("decoding failed at packet " + (packets - 1) + " of", s);
        }
        return;
      } finally {
        av_packet_unref(pkt);
      }
    }
  }

  private void convert(byte[] rgb, long index) {
    int fw = frame.width(), fh = frame.height(), ff = frame.format();
    if (fw < 1 || fh < 1 || fw > Cv.MAX_SIDE || fh > Cv.MAX_SIDE)
      throw new ComixException("frame " + index + " of " + file + " has an unusable size " + fw + "x" + fh);
    if (size == 0 && (fw != nativeWidth || fh != nativeHeight))
      throw new ComixException("frame " + index + " of " + file + " is " + fw + "x" + fh + " but the video is "
          + nativeWidth + "x" + nativeHeight + " (resize with -r when the frame size changes)");
    if (fw != swsW || fh != swsH || ff != swsFmt) {
      sws = sws_getCachedContext(sws, fw, fh, ff, fw, fh, AV_PIX_FMT_RGB24, SWS_BICUBIC, null, null, (DoublePointer) null);
      if (sws == null || sws.isNull()) {
        BytePointer name = av_get_pix_fmt_name(ff);
        throw new ComixException("cannot convert pixel format " + (name == null ? ff : name.getString()) + " of " + file
            + " to RGB");
      }
      if (rgbNative != null) rgbNative.close();
      rgbNative = new BytePointer((long) fw * fh * 3);
      dstData.put(0, rgbNative);
      dstLines.put(0, fw * 3);
      swsW = fw;
      swsH = fh;
      swsFmt = ff;
    }
    int lines = sws_scale(sws, frame.data(), frame.linesize(), 0, fh, dstData, dstLines);
    if (lines != fh) throw new ComixException("cannot convert frame " + index + " of " + file + " to RGB (status " + lines + ")");
    if (size == 0) {
      rgbNative.position(0).get(rgb, 0, rgb.length);
    } else {
      try (Mat m = Cv.wrapRgb(rgbNative.position(0), fw, fh); Mat r = Cv.resizeSquare(m, size, "frame " + index + " of " + file)) {
        Cv.copyOut(r, rgb);
      }
    }
  }

  @Override
  public List<String> warnings() {
    List<String> w = new ArrayList<>();
    if (rejectedPackets > 0)
      w.add(file + ": the decoder rejected " + rejectedPackets + " corrupt packet(s); they were skipped");
    if (concealedFrames > 0)
      w.add(file + ": " + concealedFrames + " frame(s) had decoding errors the decoder concealed");
    return w;
  }

  private String describeRejected() {
    return rejectedPackets > 0 ? " (" + rejectedPackets + " packets rejected as invalid data)" : "";
  }

  private ComixException fail(String what, int err) {
    return new ComixException(what + " " + file + ": " + errorText(err));
  }

  static String errorText(int err) {
    byte[] buf = new byte[256];
    if (av_strerror(err, buf, buf.length) < 0) return "FFmpeg error " + err;
    int n = 0;
    while (n < buf.length && buf[n] != 0) n++;
    String s = new String(buf, 0, n, StandardCharsets.UTF_8);
    return s.isEmpty() ? "FFmpeg error " + err : Character.toLowerCase(s.charAt(0)) + s.substring(1);
  }

  /**
   * An AVI is a RIFF file: "RIFF" size "AVI " then, in OpenDML files, more "RIFF" size "AVIX"
   * chunks. A file cut short declares more bytes than it has; FFmpeg would then read what is
   * there and stop at a packet boundary without complaint.
   */
  static void checkRiff(Path file, long fileBytes) {
    if (fileBytes < 12) return;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
      long pos = 0;
      for (int chunk = 0; chunk < 4096 && pos + 12 <= fileBytes; chunk++) {
        b.clear().limit(12);
        while (b.hasRemaining() && ch.read(b, pos + b.position()) > 0) {}
        if (b.position() < 12) return;
        boolean riff = b.get(0) == 'R' && b.get(1) == 'I' && b.get(2) == 'F' && b.get(3) == 'F';
        boolean avi = b.get(8) == 'A' && b.get(9) == 'V' && b.get(10) == 'I';
        if (!riff || !avi) return; // not an AVI, or the end of the RIFF chain
        long declared = Integer.toUnsignedLong(b.getInt(4));
        if (declared == 0 || declared == 0xFFFFFFFFL) return; // writer never filled it in: cannot tell
        long end = pos + 8 + declared;
        if (end > fileBytes + 1) // +1: a pad byte some writers leave out
          throw new ComixException("video " + file + " is truncated: the file has " + fileBytes
              + " bytes but its AVI header declares " + end);
        // Its top-level chunks (LIST hdrl, LIST movi, idx1, JUNK) must fit too.
        long sub = pos + 12;
        for (int k = 0; k < 64 && sub + 8 <= end && sub + 8 <= fileBytes; k++) {
          b.clear().limit(8);
          while (b.hasRemaining() && ch.read(b, sub + b.position()) > 0) {}
          if (b.position() < 8) break;
          long subSize = Integer.toUnsignedLong(b.getInt(4));
          long subEnd = sub + 8 + subSize;
          if (subEnd > fileBytes + 1)
            throw new ComixException("video " + file + " is truncated: the file has " + fileBytes + " bytes but its AVI '"
                + fourcc(b) + "' chunk ends at " + subEnd);
          sub = subEnd + (subSize & 1);
        }
        b.limit(12);
        pos = end + (declared & 1);
      }
    } catch (IOException e) {
      throw new ComixException("cannot read video " + file + ": " + ImageFiles.ioReason(e));
    }
  }

  private static String fourcc(ByteBuffer b) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 4; i++) {
      char c = (char) (b.get(i) & 0xff);
      sb.append(c >= 32 && c < 127 ? c : '?');
    }
    return sb.toString().strip();
  }

  @Override
  public void close() {
    finished = true;
    if (sws != null) sws_freeContext(sws);
    sws = null;
    if (frame != null) av_frame_free(frame);
    frame = null;
    if (pkt != null) av_packet_free(pkt);
    pkt = null;
    if (dec != null) avcodec_free_context(dec);
    dec = null;
    if (fmt != null) avformat_close_input(fmt);
    fmt = null;
    if (rgbNative != null) rgbNative.close();
    rgbNative = null;
    dstData.close();
    dstLines.close();
  }

  @Override
  public String toString() {
    return "video " + file;
  }
}
