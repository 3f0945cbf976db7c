/* eval/csv_table.h — a small reader of CSV-with-header files into string columns, by name.
 *
 * Used by the report layer (sdpo claims / figures / grid; paper Table 1, Table 3, Fig. 3–11)
 * to read train.csv, summary.csv, images.csv, table1.csv and table3.csv. Lines that start with
 * '#' (metadata) and blank lines are skipped; the first remaining record is the header.
 * Parsing is libcsv's (RFC 4180 quoting). Every failure names the file (and the column or
 * row at fault) through core/error.h. */
#ifndef SDPO_EVAL_CSV_TABLE_H
#define SDPO_EVAL_CSV_TABLE_H

#include <stddef.h>

#include "core/error.h"

typedef struct {
    char path[1024];
    int ncols;
    char **header;         /* [ncols] */
    size_t nrows;
    char **cells;          /* [nrows * ncols]; a short row's missing cells are "" */
} sdpo_csv_table;

/* Reads path into t (zeroed first). A file with no header is a format error. */
sdpo_status sdpo_csv_table_read(const char *path, sdpo_csv_table *t);
void sdpo_csv_table_free(sdpo_csv_table *t);

/* Index of column `name`; a missing column is SDPO_ERR_FORMAT naming the file and column. */
sdpo_status sdpo_csv_table_col(const sdpo_csv_table *t, const char *name, int *col);
/* -1 when absent (no error recorded). */
int sdpo_csv_table_find(const sdpo_csv_table *t, const char *name);

const char *sdpo_csv_table_get(const sdpo_csv_table *t, size_t row, int col);
/* Parses a cell as a finite double; errors name file, row (1-based data row) and column. */
sdpo_status sdpo_csv_table_double(const sdpo_csv_table *t, size_t row, int col, double *out);

#endif
