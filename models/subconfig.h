/* models/subconfig.h — a nested section of a config.json as a config of its own.
 *
 * transformers' CLIPModel config.json keeps the towers in "vision_config" / "text_config"
 * objects and open_clip's model configs in "vision_cfg" / "text_cfg"; models/config.h reads
 * top-level keys only. A section opened here is an ordinary sdpo_config (free it with
 * sdpo_config_free) whose errors name "<file> [<section>]" and the key, so every typed getter
 * works on it unchanged. */
#ifndef SDPO_MODELS_SUBCONFIG_H
#define SDPO_MODELS_SUBCONFIG_H

#include "core/error.h"
#include "models/config.h"

/* The object at key `section` of c. When the key is absent or null and `absent_ok`, *out is an
 * empty section (every *_or getter then returns its default, as transformers fills a missing
 * vision_config with CLIPVisionConfig defaults); otherwise SDPO_ERR_FORMAT naming file and key. */
sdpo_status sdpo_config_section(const sdpo_config *c, const char *section, int absent_ok,
                                sdpo_config *out);

#endif
