/* cli/cmd_score.c — `sdpo score`: one reward score per image file, with the same reward code
 * (rewards/reward.h) the trainers and the evaluator use. The model is loaded once, then the
 * images are scored one by one (they may differ in size). */
#include "cli/commands.h"
#include "rewards/image.h"
#include "rewards/reward.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void score_help(void) {
    printf("usage: sdpo score --reward NAME [--model DIR] [--prompt TEXT] [--official-scale]\n"
           "                  --image FILE.png [--image FILE.png ...]\n"
           "\n"
           "Prints one line per image, in order: the image path, a tab, the score (%%.9g).\n"
           "Rewards are computed in fp32 on the CPU (OMP_NUM_THREADS threads); the image is\n"
           "converted as the training code does ((x*255).round() to uint8), then preprocessed\n"
           "as the reference implementation (PIL bicubic resize, centre crop, CLIP mean/std).\n"
           "\n"
           "  --reward NAME      one of the rewards below\n"
           "  --model DIR        model folder of a learned reward (micro ones: see below)\n"
           "  --prompt TEXT      the prompt every image is scored against (text rewards)\n"
           "  --image FILE       an 8-bit PNG; repeat for several images\n"
           "  --official-scale   the scale SDPO's official code logged (see below)\n"
           "\n"
           "rewards and their scales:\n"
           "  aesthetic          LAION aesthetic predictor: MLP (768-1024-128-64-16-1, no\n"
           "                     activations) on the L2-normalised OpenAI CLIP ViT-L/14 image\n"
           "                     embedding; roughly AVA's 1-10. DIR: the openai/clip-vit-large-\n"
           "                     patch14 folder + aesthetic_head.safetensors\n"
           "                     (reference/convert_aesthetic.py).\n"
           "  pickscore          exp(logit_scale) * cos(image, text) of PickScore_v1 (CLIP-H):\n"
           "                     about 20-23 on SD-Turbo images. DIR: the PickScore_v1 folder\n"
           "                     with the CLIP tokenizer files.\n"
           "  hpsv2              100 * cos(image, text) of HPSv2 (OpenCLIP ViT-H/14), the scale\n"
           "                     of the paper's Table 1 (about 25-30). DIR: written by\n"
           "                     reference/convert_hpsv2.py from HPS_v2_compressed.pt.\n"
           "  imagereward        (mlp(BLIP [CLS]) - 0.16717362830052426) / 1.0333394966054072,\n"
           "                     ImageReward's published normalisation. DIR: written by\n"
           "                     reference/convert_imagereward.py from ImageReward.pt.\n"
           "  jpeg-compressibility    -(JPEG quality-95 size in kB = bytes/1000); no model.\n"
           "  jpeg-incompressibility  +(JPEG quality-95 size in kB); no model.\n"
           "  micro-clip         the micro world's PickScore stand-in: exp(logit_scale) *\n"
           "                     cos(image, text) of the micro CLIP (ViT 32/4, width 64). DIR:\n"
           "                     default data/micro/clip (sdpo train-micro-rewards).\n"
           "  micro-quality      the micro world's aesthetic stand-in: the aesthetic MLP on the\n"
           "                     micro-CLIP image embedding; the logit that the image is a clean\n"
           "                     render, not a degraded one. DIR: default data/micro/quality.\n"
           "\n"
           "note: SDPO's official code logged PickScore and HPSv2 as raw cosines (about 0.2 and\n"
           "0.25-0.3) and ImageReward without its normalisation; --official-scale reproduces\n"
           "those numbers (aesthetic and JPEG have one scale).\n"
           "\n"
           "exit status: 0 scored, 1 a model or image failed to load, 2 usage error.\n");
}

int cmd_score(int argc, char **argv) {
    static const struct option opts[] = {
        {"reward", required_argument, 0, 'r'}, {"model", required_argument, 0, 'm'},
        {"prompt", required_argument, 0, 'p'}, {"image", required_argument, 0, 'i'},
        {"official-scale", no_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *cmd = argv[0], *name = NULL, *model = NULL, *prompt = NULL;
    const char **images = calloc((size_t)argc, sizeof *images);
    int n_images = 0;
    sdpo_reward_options opt = {0};
    if (!images) return cli_usage_error(cmd, "out of memory");
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 'r': name = optarg; break;
        case 'm': model = optarg; break;
        case 'p': prompt = optarg; break;
        case 'i': images[n_images++] = optarg; break;
        case 'o': opt.official_scale = 1; break;
        case 'h': free(images); score_help(); return SDPO_EXIT_OK;
        default: free(images); return cli_usage_error(cmd, "unknown option");
        }
    }
    const char *usage = NULL;
    if (optind < argc) usage = "unexpected argument";
    else if (!name) usage = "--reward is required";
    else if (!n_images) usage = "at least one --image is required";
    if (usage) {
        free(images);
        return cli_usage_error(cmd, "%s", usage);
    }
    sdpo_reward *r;
    if (sdpo_reward_create_with(name, model, &opt, &r) != SDPO_OK) {
        free(images);
        return strstr(sdpo_last_error(), "unknown reward")
                   ? cli_usage_error(cmd, "%s", sdpo_last_error())
                   : cli_report_error();
    }
    int status = SDPO_EXIT_OK;
    const char *p = prompt ? prompt : "";
    for (int i = 0; i < n_images && status == SDPO_EXIT_OK; i++) {
        int H, W;
        uint8_t *rgb;
        float score, *chw = NULL;
        sdpo_status rc = sdpo_png_read(images[i], &H, &W, &rgb);
        if (rc == SDPO_OK) {
            chw = malloc((size_t)3 * H * W * sizeof *chw);
            if (!chw) rc = sdpo_fail(SDPO_ERR_NOMEM, "%s: out of memory", images[i]);
            else sdpo_image_from_rgb8(H, W, rgb, chw);
            free(rgb);
        }
        if (rc == SDPO_OK) rc = r->score(r, 1, H, W, chw, &p, &score);
        free(chw);
        if (rc != SDPO_OK) status = cli_report_error();
        else printf("%s\t%.9g\n", images[i], score);
    }
    sdpo_reward_free(r);
    free(images);
    return status;
}
