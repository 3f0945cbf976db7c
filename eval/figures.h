/* eval/figures.h — data for the paper's figures and image grids (`sdpo figures`, `sdpo grid`).
 *
 * Figures (gnuplot scripts in figures/, which read only the CSVs written here, columns by
 * header name):
 *   fig3.csv   method,series,samples,reward       Fig. 3: reward of last-step images vs samples
 *   fig4.csv   method,epoch,reward,steps,mean     Fig. 4, 8–11: eval reward vs epoch per steps
 *   fig5_strategy.csv series,samples,hours,reward Fig. 5 left/middle (dense-reward strategy)
 *   fig5_gamma.csv    series,samples,reward       Fig. 5 right (discount γ)
 *   fig6_norm.csv, fig6_lam.csv, fig6_schedule.csv series,samples,reward   Fig. 6
 *   fig7.csv   series,samples,reward              Fig. 7: baselines with T = 1, 2, or mixed T
 * A series holds the rows of one run, in epoch order; hours = cumulative wall_s / 3600.
 * Runs in an ablation figure are SDPO runs whose other ablated keys are at the paper's
 * choice (so one figure varies one key). */
#ifndef SDPO_EVAL_FIGURES_H
#define SDPO_EVAL_FIGURES_H

#include "core/error.h"
#include "eval/claims.h"

typedef struct {
    char name[64];          /* e.g. "fig5_gamma" (→ OUT/fig5_gamma.csv, figures/fig5_gamma.gp) */
    char script[64];        /* script file name under the scripts dir */
    char series[2048];      /* space-separated series names ('_' for spaces), for gnuplot */
    char extra[256];        /* more gnuplot -e assignments (e.g. rewards='...') */
    int rows;               /* data rows written; 0: the figure is skipped */
} sdpo_figure_data;

enum { SDPO_MAX_FIGURES = 16 };

/* Writes every figure's CSV into out_dir from the runs and eval summary.csv files; fills
 * figs[] (*n entries, including those with rows == 0, which the caller skips). */
sdpo_status sdpo_figures_write_data(const sdpo_run_set *runs, const char *const *summaries, int n_summaries,
                                    const char *out_dir, sdpo_figure_data figs[SDPO_MAX_FIGURES], int *n);

/* Runs `gnuplot -e assignments script` and waits; a gnuplot that cannot be executed is an
 * SDPO_ERR_IO naming it, a script error SDPO_ERR_FORMAT naming the script. */
sdpo_status sdpo_figures_run_gnuplot(const char *gnuplot, const char *script, const char *assignments);

/* Fig. 1 / 13–18 grid from an eval dir: rows = methods under EVAL/images (base, ddpo, rebel,
 * d3po, sdpo, then others by name), columns = step counts (ascending), cell = p<prompt>_i<image>.png of the method's
 * epoch (epoch < 0: each method's largest). Missing cells are grey; the title is the prompt
 * (from EVAL/images.csv when present). scale: cell upscale factor. */
sdpo_status sdpo_grid_from_eval(const char *eval_dir, int prompt_index, int image_index, int epoch, int scale,
                                const char *out_png);

#endif
