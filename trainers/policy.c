/* trainers/policy.c — what every policy implementation shares (policy.h). */
#include "trainers/policy.h"

#include <stdlib.h>

void sdpo_policy_free(sdpo_policy *p) {
    if (!p) return;
    if (p->destroy) p->destroy(p);
    free(p);
}
