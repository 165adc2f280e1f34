package io.diffuse.core.video;

import static org.bytedeco.ffmpeg.global.avcodec.*;
import static org.bytedeco.ffmpeg.global.avformat.*;
import static org.bytedeco.ffmpeg.global.avutil.*;
import static org.bytedeco.ffmpeg.global.swscale.*;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.ffmpeg.avcodec.AVCodec;
import org.bytedeco.ffmpeg.avcodec.AVCodecContext;
import org.bytedeco.ffmpeg.avcodec.AVPacket;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.avutil.AVDictionary;
import org.bytedeco.ffmpeg.avutil.AVFrame;
import org.bytedeco.ffmpeg.swscale.SwsContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.PointerPointer;

/** Test helper: decodes an MP4's first video stream back to packed RGB frames through FFmpeg. */
final class Mp4Decoder {

    /** What was decoded: stream facts and the frames. */
    record Decoded(String codec, int width, int height, double fps, List<byte[]> frames) {
    }

    static Decoded decode(Path file) throws IOException {
        AVFormatContext fmt = new AVFormatContext(null);
        Mp4Writer.check(avformat_open_input(fmt, file.toString(), null, (AVDictionary) null), "open " + file);
        AVCodecContext ctx = null;
        AVFrame frame = av_frame_alloc();
        AVFrame rgb = av_frame_alloc();
        AVPacket pkt = av_packet_alloc();
        SwsContext sws = null;
        try {
            Mp4Writer.check(avformat_find_stream_info(fmt, (PointerPointer<?>) null), "read stream info");
            int index = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, (AVCodec) null, 0);
            Mp4Writer.check(index, "find a video stream");
            AVStream stream = fmt.streams(index);
            AVCodec codec = avcodec_find_decoder(stream.codecpar().codec_id());
            ctx = avcodec_alloc_context3(codec);
            avcodec_parameters_to_context(ctx, stream.codecpar());
            Mp4Writer.check(avcodec_open2(ctx, codec, (AVDictionary) null), "open the decoder");
            int w = ctx.width();
            int h = ctx.height();
            BytePointer rgbData = new BytePointer((long) w * h * 3);
            rgb.data(0, rgbData);
            rgb.linesize(0, w * 3);
            List<byte[]> frames = new ArrayList<>();
            while (true) {
                int read = av_read_frame(fmt, pkt);
                if (read < 0) {
                    avcodec_send_packet(ctx, null);
                } else if (pkt.stream_index() != index) {
                    av_packet_unref(pkt);
                    continue;
                } else {
                    Mp4Writer.check(avcodec_send_packet(ctx, pkt), "decode a packet");
                    av_packet_unref(pkt);
                }
                while (true) {
                    int ret = avcodec_receive_frame(ctx, frame);
                    if (ret == AVERROR_EAGAIN() || ret == AVERROR_EOF) {
                        break;
                    }
                    Mp4Writer.check(ret, "receive a frame");
                    if (sws == null) {
                        sws = sws_getContext(w, h, frame.format(), w, h, AV_PIX_FMT_RGB24,
                                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, null, null, (DoublePointer) null);
                    }
                    sws_scale(sws, frame.data(), frame.linesize(), 0, h, rgb.data(), rgb.linesize());
                    byte[] bytes = new byte[w * h * 3];
                    rgbData.position(0).get(bytes);
                    frames.add(bytes);
                }
                if (read < 0) {
                    break;
                }
            }
            double fps = av_q2d(stream.avg_frame_rate());
            return new Decoded(codec.name().getString(), w, h, fps, frames);
        } finally {
            if (sws != null) {
                sws_freeContext(sws);
            }
            av_packet_free(pkt);
            rgb.data(0, null);
            av_frame_free(rgb);
            av_frame_free(frame);
            if (ctx != null) {
                avcodec_free_context(ctx);
            }
            avformat_close_input(fmt);
        }
    }

    private Mp4Decoder() {
    }
}
