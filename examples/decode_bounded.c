/*
 * decode_bounded: a decoder drawing its output frames from a bounded pool
 * through fp_av_get_buffer2 (fp_av_attach), printing the pool's stats.
 *
 *   decode_bounded [--codec NAME] [--pool N] [--threads N] [FILE]
 *
 * FILE is a raw elementary stream (.m2v, .h264, ...; the codec is guessed
 * from the extension or given with --codec). Without FILE a 2-second 640x360
 * MPEG-2 clip is encoded in memory first.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>

#include <framepool/av.h>

typedef struct buffer {
    uint8_t *data;
    size_t size, cap;
} buffer;

static int append(buffer *b, const uint8_t *p, size_t n)
{
    if (b->size + n > b->cap) {
        size_t cap = (b->size + n) * 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
    return 0;
}

/* A short clip so the example runs without input. */
static int make_clip(buffer *out)
{
    const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_MPEG2VIDEO);
    AVCodecContext *enc = c ? avcodec_alloc_context3(c) : NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int ret = -1;
    if (!enc || !f || !pkt)
        goto end;
    enc->width = 640;
    enc->height = 360;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){ 1, 25 };
    enc->gop_size = 12;
    enc->max_b_frames = 2;
    if (avcodec_open2(enc, c, NULL) < 0)
        goto end;
    f->format = enc->pix_fmt;
    f->width = enc->width;
    f->height = enc->height;
    if (av_frame_get_buffer(f, 0) < 0)
        goto end;
    for (int n = 0; n <= 50; n++) {
        if (n < 50) {
            if (av_frame_make_writable(f) < 0)
                goto end;
            for (int p = 0; p < 3; p++)
                for (int y = 0; y < (p ? 180 : 360); y++)
                    for (int x = 0; x < (p ? 320 : 640); x++)
                        f->data[p][y * f->linesize[p] + x] = (uint8_t)(p ? 128 + ((x + n) & 31) : x + y + n * 4);
            f->pts = n;
        }
        if (avcodec_send_frame(enc, n < 50 ? f : NULL) < 0)
            goto end;
        while (avcodec_receive_packet(enc, pkt) == 0) {
            if (append(out, pkt->data, (size_t)pkt->size) < 0)
                goto end;
            av_packet_unref(pkt);
        }
    }
    ret = 0;
end:
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&enc);
    return ret;
}

static int read_file(const char *path, buffer *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (append(out, chunk, n) < 0) {
            fclose(f);
            return -1;
        }
    fclose(f);
    return 0;
}

static const char *codec_for(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot)
        return "mpeg2video";
    if (!strcmp(dot, ".h264") || !strcmp(dot, ".264"))
        return "h264";
    if (!strcmp(dot, ".hevc") || !strcmp(dot, ".265"))
        return "hevc";
    if (!strcmp(dot, ".m4v"))
        return "mpeg4";
    return "mpeg2video";
}

int main(int argc, char **argv)
{
    const char *path = NULL, *codec_name = NULL;
    int pool_frames = 12, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--codec") && i + 1 < argc)
            codec_name = argv[++i];
        else if (!strcmp(argv[i], "--pool") && i + 1 < argc)
            pool_frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: %s [--codec NAME] [--pool N] [--threads N] [FILE]\n", argv[0]);
            return 2;
        }
    }
    av_log_set_level(AV_LOG_ERROR);
    buffer in = { 0 };
    if (path ? read_file(path, &in) : make_clip(&in)) {
        fprintf(stderr, "cannot %s\n", path ? "read the input" : "make the clip");
        return 1;
    }
    if (!codec_name)
        codec_name = codec_for(path);
    const AVCodec *codec = avcodec_find_decoder_by_name(codec_name);
    AVCodecParserContext *parser = codec ? av_parser_init(codec->id) : NULL;
    AVCodecContext *dec = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    if (!codec || !parser || !dec || !pkt || !frame) {
        fprintf(stderr, "decoder/parser %s not available\n", codec_name);
        return 1;
    }

    /* The pool needs the stream's geometry: let the parser find it first. */
    const uint8_t *p = in.data;
    size_t left = in.size;
    int width = 0, height = 0;
    enum AVPixelFormat fmt = AV_PIX_FMT_YUV420P;
    while (left && !width) {
        uint8_t *out;
        int out_size;
        int used = av_parser_parse2(parser, dec, &out, &out_size, p, (int)left, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
        if (used < 0)
            break;
        p += used;
        left -= (size_t)used;
        if (parser->width > 0) {
            width = parser->width;
            height = parser->height;
            if (parser->format >= 0)
                fmt = (enum AVPixelFormat)parser->format;
        }
    }
    av_parser_close(parser);
    if (!width) {
        fprintf(stderr, "cannot find the picture size in the stream\n");
        return 1;
    }

    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "decoder-output";
    cfg.max_frames = pool_frames;
    cfg.get_buffer_timeout_us = 200000;
    fp_pool *pool;
    int ret = fp_av_pool_create(&pool, fmt, width, height, &cfg);
    if (ret < 0) {
        fprintf(stderr, "fp_av_pool_create: %s\n", fp_strerror(ret));
        return 1;
    }
    /* The decoder draws from the pool; dec->opaque stays free for the application. */
    if ((ret = fp_av_attach(dec, pool)) < 0) {
        fprintf(stderr, "fp_av_attach: %s\n", fp_strerror(ret));
        return 1;
    }
    dec->thread_count = threads;
    if (threads > 1)
        dec->thread_type = FF_THREAD_FRAME;
    if ((ret = avcodec_open2(dec, codec, NULL)) < 0) {
        fprintf(stderr, "avcodec_open2: %s\n", av_err2str(ret));
        return 1;
    }
    printf("decoding %zu bytes of %s (%dx%d %s) into a pool of %d frames, %d thread%s\n", in.size, codec->name,
           width, height, av_get_pix_fmt_name(fmt), pool_frames, threads, threads == 1 ? "" : "s");

    parser = av_parser_init(codec->id);
    p = in.data;
    left = in.size;
    int64_t frames = 0, pooled = 0;
    for (int flushing = 0; !flushing;) {
        uint8_t *out = NULL;
        int out_size = 0;
        if (left) {
            int used = av_parser_parse2(parser, dec, &out, &out_size, p, (int)left, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
            if (used < 0)
                break;
            p += used;
            left -= (size_t)used;
        } else {
            av_parser_parse2(parser, dec, &out, &out_size, NULL, 0, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
            flushing = !out_size;
        }
        if (!out_size && !flushing)
            continue;
        pkt->data = out;
        pkt->size = out_size;
        ret = avcodec_send_packet(dec, flushing ? NULL : pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            fprintf(stderr, "decode: %s\n", av_err2str(ret));
            break;
        }
        while ((ret = avcodec_receive_frame(dec, frame)) == 0) {
            frames++;
            pooled += fp_av_frame_is_from(pool, frame);
            av_frame_unref(frame); /* back to the pool */
        }
    }
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    printf("%" PRId64 " frames decoded, %" PRId64 " from the pool; peak %" PRIu32 " of %" PRIu32
           " frames live, %" PRIu64 " fallbacks to the default allocator\n\n",
           frames, pooled, st.peak_live, st.capacity, st.get_buffer_fallbacks);
    av_parser_close(parser);
    fp_av_detach(dec);
    avcodec_free_context(&dec); /* the decoder drops the references it kept */
    fp_pool_report(pool, stdout);
    fp_pool_unref(&pool);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    free(in.data);
    return 0;
}
