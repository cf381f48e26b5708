/*
 * encode_soak: the long-running encoder loop that used to leak in production,
 * rebuilt on a bounded pool. A real encode (libx264 when this libavcodec has
 * it, else mpeg2video) from pooled AVFrames, with a line every few seconds:
 *
 *   elapsed  frames  fps  RSS-delta  live  peak
 *
 * and at the end the pool report and the resident-memory slope in bytes per
 * frame, which stays ~0: every frame comes back, however the encoder holds it.
 *
 *   encode_soak [--seconds N] [--size WxH] [--codec NAME] [--pool N]
 *               [--output FILE] [--leak-every N]
 *
 * --leak-every N forgets a frame on an "error path" every N frames, the bug
 * this program used to have: the pool runs dry instead of the server's memory,
 * and the report names the line that leaked.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>

#include <framepool/av.h>

typedef struct options {
    double seconds;
    int width, height;
    const char *codec;
    int pool_frames;
    const char *output;
    int leak_every;
} options;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

/* Least-squares slope of y against x. */
static double slope_of(const double *x, const double *y, int n)
{
    if (n < 2)
        return 0;
    double mx = 0, my = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++)
        mx += x[i], my += y[i];
    mx /= n;
    my /= n;
    for (int i = 0; i < n; i++)
        sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
    return sxx > 0 ? sxy / sxx : 0;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--seconds N] [--size WxH] [--codec NAME] [--pool N] [--output FILE] [--leak-every N]\n",
            argv0);
    exit(2);
}

static options parse(int argc, char **argv)
{
    options o = { 20.0, 1920, 1080, NULL, 8, NULL, 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--seconds") && v)
            o.seconds = atof(v), i++;
        else if (!strcmp(a, "--size") && v && sscanf(v, "%dx%d", &o.width, &o.height) == 2)
            i++;
        else if (!strcmp(a, "--codec") && v)
            o.codec = v, i++;
        else if (!strcmp(a, "--pool") && v)
            o.pool_frames = atoi(v), i++;
        else if (!strcmp(a, "--output") && v)
            o.output = v, i++;
        else if (!strcmp(a, "--leak-every") && v)
            o.leak_every = atoi(v), i++;
        else
            usage(argv[0]);
    }
    if (o.seconds <= 0 || o.width < 16 || o.height < 16 || o.pool_frames < 1 || o.leak_every < 0)
        usage(argv[0]);
    return o;
}

/* A moving test picture: cheap to draw, never the same twice. */
static void draw(AVFrame *f, int64_t n)
{
    for (int y = 0; y < f->height; y++)
        memset(f->data[0] + (size_t)y * (size_t)f->linesize[0], (int)((y + n * 3) & 0xff), (size_t)f->width);
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < (f->height + 1) / 2; y++)
            memset(f->data[p] + (size_t)y * (size_t)f->linesize[p], (int)((128 + p * 40 + n) & 0xff),
                   (size_t)(f->width + 1) / 2);
}

static int drain(AVCodecContext *enc, AVPacket *pkt, FILE *out, int64_t *packets, int64_t *bytes)
{
    int ret;
    while ((ret = avcodec_receive_packet(enc, pkt)) == 0) {
        (*packets)++;
        *bytes += pkt->size;
        if (out)
            fwrite(pkt->data, 1, (size_t)pkt->size, out);
        av_packet_unref(pkt);
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

/* The "request handler" with the classic bug: an error path that returns
 * without freeing the frame it took. */
static int encode_one(fp_pool *pool, AVCodecContext *enc, int64_t n, int leak)
{
    AVFrame *frame;
    int ret = fp_av_acquire(pool, 1000000, &frame);
    if (ret < 0)
        return ret;
    draw(frame, n);
    frame->pts = n;
    if (leak) {
        fp_av_frame_set_tag(frame, "dropped on the error path");
        return 0; /* BUG (on purpose): frame is never freed */
    }
    ret = avcodec_send_frame(enc, frame);
    av_frame_free(&frame); /* the encoder took its own reference, or a copy */
    return ret;
}

int main(int argc, char **argv)
{
    options o = parse(argc, argv);
    av_log_set_level(AV_LOG_WARNING);
    const AVCodec *codec = o.codec ? avcodec_find_encoder_by_name(o.codec)
                                   : avcodec_find_encoder_by_name("libx264");
    if (!codec && !o.codec)
        codec = avcodec_find_encoder_by_name("mpeg2video");
    if (!codec) {
        fprintf(stderr, "encoder %s not found in this libavcodec\n", o.codec ? o.codec : "mpeg2video");
        return 1;
    }
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    AVPacket *pkt = av_packet_alloc();
    if (!enc || !pkt)
        return 1;
    enc->width = o.width;
    enc->height = o.height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){ 1, 30 };
    enc->framerate = (AVRational){ 30, 1 };
    enc->gop_size = 30;
    enc->max_b_frames = 2;
    enc->bit_rate = 4000000;
    if (!strcmp(codec->name, "libx264")) {
        av_opt_set(enc->priv_data, "preset", "ultrafast", 0);
    }
    int ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0) {
        fprintf(stderr, "avcodec_open2(%s): %s\n", codec->name, av_err2str(ret));
        return 1;
    }

    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "encoder-input";
    cfg.min_frames = 1;
    cfg.max_frames = o.pool_frames;
    fp_pool *pool;
    ret = fp_av_pool_create(&pool, AV_PIX_FMT_YUV420P, o.width, o.height, &cfg);
    if (ret < 0) {
        fprintf(stderr, "fp_av_pool_create: %s\n", fp_strerror(ret));
        return 1;
    }
    FILE *out = o.output ? fopen(o.output, "wb") : NULL;
    if (o.output && !out) {
        fprintf(stderr, "%s: %s\n", o.output, strerror(errno));
        return 1;
    }

    printf("encode_soak: %s %dx%d, pool of %d frames, %.0f s%s\n", codec->name, o.width, o.height,
           o.pool_frames, o.seconds, o.leak_every ? " (leaking on purpose)" : "");
    printf("%8s %8s %7s %11s %5s %5s\n", "elapsed", "frames", "fps", "RSS-delta", "live", "peak");

    /* RSS samples after warm-up, for the slope. */
    enum { MAX_SAMPLES = 4096 };
    static double sx[MAX_SAMPLES], sy[MAX_SAMPLES];
    int ns = 0;
    double start = now_s(), last_print = start, warm_until = start + (o.seconds > 4 ? 2.0 : o.seconds / 4);
    double sample_every = o.seconds / 2000, last_sample = 0; /* <= 2000 samples, whatever the length */
    long rss0 = 0;
    int64_t n = 0, packets = 0, bytes = 0, last_n = 0;
    int status = 0;
    for (;;) {
        double t = now_s();
        if (t - start >= o.seconds)
            break;
        ret = encode_one(pool, enc, n, o.leak_every && n % o.leak_every == o.leak_every - 1);
        if (ret == FP_ERR(ETIMEDOUT)) {
            printf("\npool exhausted after %" PRId64 " frames: every frame is live and none comes back.\n", n);
            status = 1;
            break;
        }
        if (ret < 0 || (ret = drain(enc, pkt, out, &packets, &bytes)) < 0) {
            fprintf(stderr, "encode: %s\n", av_err2str(ret));
            status = 1;
            break;
        }
        n++;
        if (!rss0 && t >= warm_until)
            rss0 = rss_bytes();
        if (rss0 && ns < MAX_SAMPLES && t - last_sample >= sample_every) {
            last_sample = t;
            sx[ns] = (double)n;
            sy[ns] = (double)rss_bytes();
            ns++;
        }
        if (t - last_print >= 2.0) {
            fp_pool_stats st;
            fp_pool_get_stats(pool, &st);
            printf("%7.1fs %8" PRId64 " %7.1f %+10.1fK %5" PRIu32 " %5" PRIu32 "\n", t - start, n,
                   (double)(n - last_n) / (t - last_print), rss0 ? (double)(rss_bytes() - rss0) / 1024.0 : 0.0,
                   st.live, st.peak_live);
            fflush(stdout);
            last_print = t;
            last_n = n;
        }
    }
    avcodec_send_frame(enc, NULL);
    drain(enc, pkt, out, &packets, &bytes);
    double elapsed = now_s() - start;

    /* RSS against frames: over the whole run after warm-up, and over its
     * second half, after the encoder's and the C library's own buffers
     * (lookahead, thread arenas) have settled. */
    double slope = slope_of(sx, sy, ns);
    double slope2 = slope_of(sx + ns / 2, sy + ns / 2, ns - ns / 2);
    avcodec_free_context(&enc);
    av_packet_free(&pkt);
    if (out)
        fclose(out);

    printf("\n%" PRId64 " frames in %.1f s (%.1f fps), %" PRId64 " packets, %.1f MB of %s\n", n, elapsed,
           (double)n / elapsed, packets, (double)bytes / 1e6, codec->name);
    printf("memory slope after warm-up: %+.2f bytes per frame over %d samples, %+.2f over the second half "
           "(%.0f bytes per frame would be one leaked %dx%d frame each time)\n\n",
           slope, ns, slope2, (double)o.width * o.height * 3 / 2, o.width, o.height);
    fp_pool_report(pool, stdout);
    fp_pool_unref(&pool);
    return status;
}
