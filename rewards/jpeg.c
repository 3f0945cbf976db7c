/* rewards/jpeg.c — JPEG byte counts with libjpeg(-turbo) into memory (jpeg.h). */
#include "rewards/jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} error_mgr;

static void on_error(j_common_ptr cinfo) {
    error_mgr *e = (error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

sdpo_status sdpo_jpeg_size(int H, int W, const uint8_t *hwc, int quality, size_t *bytes) {
    if (H < 1 || W < 1 || H > 65500 || W > 65500 || quality < 1 || quality > 100)
        return sdpo_fail(SDPO_ERR_ARG, "jpeg: bad image %dx%d or quality %d", W, H, quality);
    struct jpeg_compress_struct cinfo;
    error_mgr err;
    /* volatile: modified between setjmp and a possible longjmp. */
    unsigned char *volatile out = NULL;
    unsigned long out_size = 0;
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(out);
        return sdpo_fail(SDPO_ERR_IO, "jpeg: encoder error: %s", err.message);
    }
    jpeg_create_compress(&cinfo);
    unsigned char *buf = NULL;
    jpeg_mem_dest(&cinfo, &buf, &out_size);
    cinfo.image_width = (JDIMENSION)W;
    cinfo.image_height = (JDIMENSION)H;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo); /* 2x2,1x1,1x1 sampling, islow DCT, JFIF, standard Huffman */
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(hwc + (size_t)cinfo.next_scanline * (size_t)W * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    out = buf;
    *bytes = out_size;
    jpeg_destroy_compress(&cinfo);
    free(out);
    return SDPO_OK;
}
