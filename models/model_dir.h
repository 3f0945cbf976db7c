/* models/model_dir.h — a diffusers pipeline folder (e.g. stabilityai/sd-turbo): which components
 * its model_index.json lists, where their folders, configs and weight files are.
 *
 * Layout (diffusers DiffusionPipeline.save_pretrained):
 *   DIR/model_index.json          {"_class_name": "StableDiffusionPipeline", …,
 *                                  "<component>": ["<library>", "<class>"], …}
 *   DIR/<component>/config.json   models (UNet2DConditionModel, AutoencoderKL, CLIPTextModel)
 *   DIR/<component>/scheduler_config.json, tokenizer_config.json, preprocessor_config.json
 *   DIR/<component>/<weights>     see sdpo_weights_find (models/weights.h)
 * Components listed as [null, null] (e.g. SD-Turbo's safety_checker) are absent; keys starting
 * with '_' and non-component values ("requires_safety_checker": false) are metadata. Every error
 * names the file or folder at fault. Nothing here reads weights; see vae.h / clip_text.h. */
#ifndef SDPO_MODELS_MODEL_DIR_H
#define SDPO_MODELS_MODEL_DIR_H

#include <stddef.h>

#include "core/error.h"
#include "models/config.h"

typedef struct {
    char *name;          /* "unet", "vae", "text_encoder", "tokenizer", "scheduler", … */
    char *library;       /* "diffusers", "transformers" */
    char *class_name;    /* "UNet2DConditionModel", "AutoencoderKL", "CLIPTextModel", … */
    char *dir;           /* DIR/<name> */
    int dir_exists;
    char *config_path;   /* the first of config.json, scheduler_config.json,
                            tokenizer_config.json, preprocessor_config.json that exists in dir;
                            NULL when none does */
} sdpo_model_component;

typedef struct {
    char *root;
    char *index_path;        /* DIR/model_index.json */
    char *pipeline_class;    /* its "_class_name" */
    char *diffusers_version; /* its "_diffusers_version", or NULL */
    int n_components;
    sdpo_model_component *components;   /* in model_index.json order */
} sdpo_model_dir;

/* Parses DIR/model_index.json. SDPO_ERR_IO when it is missing ("not a diffusers model folder"),
 * SDPO_ERR_FORMAT when it is not a JSON object with a string "_class_name" or a component entry
 * is not [library, class]. Component folders are only looked at, not required. */
sdpo_status sdpo_model_dir_open(const char *root, sdpo_model_dir *md);
void sdpo_model_dir_close(sdpo_model_dir *md);

/* The listed component `name`, or NULL. */
const sdpo_model_component *sdpo_model_dir_find(const sdpo_model_dir *md, const char *name);

/* The component `name`, checked: listed in model_index.json, of class `class_name` (NULL: any),
 * folder and config file present. Errors name model_index.json or the folder. */
sdpo_status sdpo_model_dir_require(const sdpo_model_dir *md, const char *name,
                                   const char *class_name, const sdpo_model_component **out);

/* Loads the component's config file (errors as sdpo_config_load). */
sdpo_status sdpo_model_dir_config(const sdpo_model_component *c, sdpo_config *cfg);

#endif
