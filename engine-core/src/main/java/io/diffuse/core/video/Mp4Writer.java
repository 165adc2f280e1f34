package io.diffuse.core.video;

import static org.bytedeco.ffmpeg.global.avcodec.*;
import static org.bytedeco.ffmpeg.global.avformat.*;
import static org.bytedeco.ffmpeg.global.avutil.*;
import static org.bytedeco.ffmpeg.global.swscale.*;

import io.diffuse.api.DiffuseException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVIOContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.avutil.AVRational;
import org.bytedeco.ffmpeg.swscale.SwsContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerScope;

/**
 * Encodes 8-bit RGB frames to an MP4 file through FFmpeg (the JavaCPP presets' libavformat/libavcodec),
 * or to the container another extension names where FFmpeg has it and it holds the codec
 * ({@code .mkv}, {@code .mov}, {@code .avi}; see {@link #container}).
 *
 * <p>The codec is H.264 in yuv420p, which every common player and browser decodes. With the default
 * (LGPL) FFmpeg natives the encoder is Cisco's OpenH264 ({@code libopenh264}); with the GPL natives
 * ({@code mvn -Pgpl}) {@code libx264} is used instead, which gives better quality per bit. MPEG-4 part 2
 * ({@code mpeg4}) is the last resort when neither is present. See docs/video.md.
 *
 * <p>RGB is converted to BT.601 limited-range YUV, as imageio-ffmpeg (diffusers' {@code export_to_video})
 * does, and the stream is tagged so players convert it back with the same matrix. The file is written
 * atomically ({@link AtomicOutput}): a failed encode leaves no file behind.
 */
public final class Mp4Writer {

    /** The encoders tried in order when no codec is named: H.264 (GPL x264, then LGPL OpenH264), then MPEG-4 part 2. */
    public static final List<String> DEFAULT_ENCODERS = List.of("libx264", "libopenh264", "mpeg4");

    private final int fps;
    private final String encoderName;
    /** The muxer, or null: the one the target's name names. */
    private final String muxer;

    /**
     * A writer at {@code fps} frames per second with the first available of {@link #DEFAULT_ENCODERS}.
     *
     * @param fps frames per second, 1 or more
     */
    public Mp4Writer(int fps) {
        this(fps, null);
    }

    /**
     * A writer at {@code fps} frames per second with the named FFmpeg encoder.
     *
     * @param fps frames per second, 1 or more
     * @param encoderName an FFmpeg encoder name (e.g. {@code libx264}, {@code libopenh264}, {@code mpeg4}),
     *        or null for the first available of {@link #DEFAULT_ENCODERS}
     */
    public Mp4Writer(int fps, String encoderName) {
        if (fps < 1 || fps > 1000) {
            throw new DiffuseException("fps must be between 1 and 1000, got " + fps + "; set --fps (e.g. 24)");
        }
        this.fps = fps;
        this.encoderName = encoderName;
        this.muxer = null;
    }

    private Mp4Writer(int fps, String encoderName, String muxer) {
        this.fps = fps;
        this.encoderName = encoderName;
        this.muxer = muxer;
    }

    /**
     * This writer with the container {@code name} names, checked ({@link #container}): for files
     * written under a temporary name first and renamed to {@code name} when complete.
     */
    public Mp4Writer forName(Path name) {
        return new Mp4Writer(fps, encoderName, container(name));
    }

    /** @return the frames per second of the files this writer makes */
    public int fps() {
        return fps;
    }

    /**
     * The FFmpeg encoder this writer uses: the one named, or the first of {@link #DEFAULT_ENCODERS} the
     * loaded FFmpeg natives provide.
     *
     * @return the encoder name
     * @throws DiffuseException when the named encoder (or none of the defaults) is available
     */
    public String encoder() {
        Loader.load(org.bytedeco.ffmpeg.global.avcodec.class);
        // FFmpeg logs encoder chatter (OpenH264 profile notes, rate-control hints) at warning level;
        // failures reach the caller as exceptions, so keep the terminal to real errors.
        av_log_set_level(AV_LOG_ERROR);
        if (encoderName != null) {
            if (avcodec_find_encoder_by_name(encoderName) == null) {
                throw new DiffuseException("FFmpeg encoder '" + encoderName + "' is not in the loaded FFmpeg natives; "
                        + "use one of " + DEFAULT_ENCODERS + " (libx264 needs the GPL natives: build with -Pgpl)");
            }
            return encoderName;
        }
        for (String name : DEFAULT_ENCODERS) {
            if (avcodec_find_encoder_by_name(name) != null) {
                return name;
            }
        }
        throw new DiffuseException("none of the video encoders " + DEFAULT_ENCODERS + " is in the loaded FFmpeg natives");
    }

    /**
     * Encodes {@code frameCount} frames of {@code width x height} to {@code target}, atomically.
     *
     * @param target the MP4 file to write (replaced if present, only once the new file is complete)
     * @param width frame width in pixels, even (yuv420p halves the chroma resolution)
     * @param height frame height in pixels, even
     * @param frameCount the number of frames, 1 or more
     * @param frames supplies each frame as packed RGB
     * @return {@code target}
     * @throws DiffuseException on bad sizes or any encoding failure; then no file is left behind
     */
    public Path write(Path target, int width, int height, int frameCount, RgbFrameSource frames) {
        if (width < 2 || height < 2 || width % 2 != 0 || height % 2 != 0) {
            throw new DiffuseException("MP4 (yuv420p) needs an even frame width and height, got " + width + "x"
                    + height + "; choose --width/--height multiples of 16 as the model requires");
        }
        if (frameCount < 1) {
            throw new DiffuseException("a video needs at least one frame, got " + frameCount);
        }
        String encoder = encoder();
        // A directory has no container to guess: AtomicOutput reports it as such.
        String container = muxer != null ? muxer : java.nio.file.Files.isDirectory(target) ? "mp4" : container(target);
        return AtomicOutput.write(target, tmp -> encode(tmp, container, encoder, width, height, frameCount, frames));
    }

    /**
     * The FFmpeg muxer the file name's extension names ({@link VideoContainers}: {@code .mp4},
     * {@code .mkv}, {@code .mov}, {@code .avi}), checked against the loaded natives to take this writer's encoder.
     *
     * @return the muxer's name (e.g. {@code mp4}, {@code avi})
     * @throws DiffuseException (one line) when FFmpeg has no muxer for the extension, or it cannot hold the codec
     */
    public String container(Path target) {
        String muxer = VideoContainers.muxerFor(target);
        Loader.load(org.bytedeco.ffmpeg.global.avformat.class);
        org.bytedeco.ffmpeg.avformat.AVOutputFormat format = av_guess_format(muxer, null, null);
        String encoder = encoder();
        // 1: the muxer lists the codec as one it holds (a build without the muxer has no format at all).
        if (format == null || format.isNull()
                || avformat_query_codec(format, avcodec_find_encoder_by_name(encoder).id(), FF_COMPLIANCE_NORMAL) != 1) {
            throw new DiffuseException(target + ": the loaded FFmpeg natives cannot write " + encoder + " video into "
                    + muxer + "; end the name in .mp4");
        }
        return muxer;
    }

    private void encode(Path file, String container, String encoder, int width, int height, int frameCount,
            RgbFrameSource frames) throws IOException {
        AVFormatContext fmt = null;
        AVCodecContext ctx = null;
        AVFrame rgb = null;
        AVFrame yuv = null;
        AVPacket pkt = null;
        SwsContext sws = null;
        try (PointerScope scope = new PointerScope()) {
            fmt = new AVFormatContext(null);
            check(avformat_alloc_output_context2(fmt, null, container, file.toString()), "allocate the " + container + " muxer");
            AVCodec codec = avcodec_find_encoder_by_name(encoder);
            AVStream stream = avformat_new_stream(fmt, null);
            if (stream == null) {
                throw new IOException("cannot add a video stream");
            }
            ctx = avcodec_alloc_context3(codec);
            AVRational timeBase = av_make_q(1, fps);
            ctx.codec_id(codec.id());
            ctx.width(width);
            ctx.height(height);
            ctx.pix_fmt(AV_PIX_FMT_YUV420P);
            ctx.time_base(timeBase);
            ctx.framerate(av_make_q(fps, 1));
            ctx.gop_size(Math.max(1, 2 * fps));
            ctx.max_b_frames(0);
            ctx.color_range(AVCOL_RANGE_MPEG);
            ctx.colorspace(AVCOL_SPC_SMPTE170M);
            ctx.color_primaries(AVCOL_PRI_SMPTE170M);
            ctx.color_trc(AVCOL_TRC_SMPTE170M);
            AVDictionary options = new AVDictionary(null);
            configureQuality(encoder, ctx, options, width, height);
            if ((fmt.oformat().flags() & AVFMT_GLOBALHEADER) != 0) {
                ctx.flags(ctx.flags() | AV_CODEC_FLAG_GLOBAL_HEADER);
            }
            int opened = avcodec_open2(ctx, codec, options);
            av_dict_free(options);
            check(opened, "open the " + encoder + " encoder at " + width + "x" + height);
            check(avcodec_parameters_from_context(stream.codecpar(), ctx), "copy the encoder parameters");
            stream.time_base(timeBase);
            stream.avg_frame_rate(av_make_q(fps, 1));

            AVIOContext pb = new AVIOContext(null);
            check(avio_open(pb, file.toString(), AVIO_FLAG_WRITE), "open " + file + " for writing");
            fmt.pb(pb);
            // faststart (MP4, MOV): the index (moov) goes before the media, so browsers start playing before the end arrives
            AVDictionary muxerOptions = new AVDictionary(null);
            if (container.equals("mp4") || container.equals("mov")) {
                av_dict_set(muxerOptions, "movflags", "+faststart", 0);
            }
            int header = avformat_write_header(fmt, muxerOptions);
            av_dict_free(muxerOptions);
            check(header, "write the " + container + " header");

            rgb = av_frame_alloc();
            yuv = av_frame_alloc();
            pkt = av_packet_alloc();
            yuv.format(AV_PIX_FMT_YUV420P);
            yuv.width(width);
            yuv.height(height);
            check(av_frame_get_buffer(yuv, 0), "allocate a frame");
            BytePointer rgbData = new BytePointer((long) width * height * 3);
            rgb.data(0, rgbData);
            rgb.linesize(0, width * 3);
            sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                    SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, null, null, (DoublePointer) null);
            if (sws == null) {
                throw new IOException("cannot create the RGB to YUV converter");
            }
            byte[] bytes = new byte[width * height * 3];
            for (int i = 0; i < frameCount; i++) {
                frames.frame(i, bytes);
                rgbData.position(0).put(bytes);
                check(av_frame_make_writable(yuv), "make the frame writable");
                sws_scale(sws, rgb.data(), rgb.linesize(), 0, height, yuv.data(), yuv.linesize());
                yuv.pts(i);
                check(avcodec_send_frame(ctx, yuv), "encode frame " + i);
                drain(fmt, ctx, stream, pkt);
            }
            check(avcodec_send_frame(ctx, null), "flush the encoder");
            drain(fmt, ctx, stream, pkt);
            check(av_write_trailer(fmt), "write the " + container + " trailer");
        } finally {
            if (sws != null) {
                sws_freeContext(sws);
            }
            if (pkt != null) {
                av_packet_free(pkt);
            }
            if (yuv != null) {
                av_frame_free(yuv);
            }
            if (rgb != null) {
                rgb.data(0, null);
                av_frame_free(rgb);
            }
            if (ctx != null) {
                avcodec_free_context(ctx);
            }
            if (fmt != null && !fmt.isNull()) {
                if (fmt.pb() != null && !fmt.pb().isNull()) {
                    avio_closep(fmt.pb());
                }
                avformat_free_context(fmt);
            }
        }
    }

    /** Visually near-lossless settings: generated clips are short, and a blocky preview hides model defects. */
    private void configureQuality(String encoder, AVCodecContext ctx, AVDictionary options, int width, int height) {
        switch (encoder) {
            case "libx264":
                av_dict_set(options, "crf", "17", 0);
                av_dict_set(options, "preset", "medium", 0);
                av_dict_set(options, "profile", "high", 0);
                break;
            case "libopenh264":
                // OpenH264 is rate controlled: budget 2 bits per pixel per frame. No floor and no
                // quantiser caps: a budget far above that (a 1 Mbit/s floor on a 64x64 clip) or a capped
                // quantiser made OpenH264 fail outright (AVERROR_UNKNOWN) on frames of pure noise.
                ctx.bit_rate(2L * width * height * fps);
                av_dict_set(options, "rc_mode", "quality", 0);
                av_dict_set(options, "allow_skip_frames", "0", 0);
                break;
            default:
                // mpeg4 and other quantiser-scale encoders: a fixed low quantiser.
                ctx.flags(ctx.flags() | AV_CODEC_FLAG_QSCALE);
                ctx.global_quality(FF_QP2LAMBDA * 3);
                break;
        }
    }

    private static void drain(AVFormatContext fmt, AVCodecContext ctx, AVStream stream, AVPacket pkt) throws IOException {
        while (true) {
            int ret = avcodec_receive_packet(ctx, pkt);
            if (ret == AVERROR_EAGAIN() || ret == AVERROR_EOF) {
                return;
            }
            check(ret, "receive an encoded packet");
            av_packet_rescale_ts(pkt, ctx.time_base(), stream.time_base());
            pkt.stream_index(stream.index());
            int written = av_interleaved_write_frame(fmt, pkt);
            av_packet_unref(pkt);
            check(written, "write a packet");
        }
    }

    static void check(int ret, String what) throws IOException {
        if (ret < 0) {
            byte[] buf = new byte[256];
            av_strerror(ret, buf, buf.length);
            int n = 0;
            while (n < buf.length && buf[n] != 0) {
                n++;
            }
            throw new IOException("FFmpeg could not " + what + ": " + new String(buf, 0, n) + " (" + ret + ")");
        }
    }
}
