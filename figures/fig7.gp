# figures/fig7.gp — paper Fig. 7: Few-step finetuning of DDPO, REBEL and D3PO (T = 1, 2, mixed), reward of last-step images vs training samples, one line per
# setting. Reads fig7.csv (series,samples,reward) by column name. Variables: data, out, series, ylab (optional y label).
set datafile separator ","
set terminal pngcairo size 800,600 noenhanced font "sans,11"
set output out
set grid
set key bottom right
set style data lines
set title "Few-step finetuning of DDPO, REBEL and D3PO (T = 1, 2, mixed)"
set xlabel "Training samples"
set ylabel (exists("ylab") ? ylab : "Reward")
plot for [s in series] data using "samples":(strcol("series") eq s ? column("reward") : NaN) lw 2 title s
