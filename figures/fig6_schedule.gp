# figures/fig6_schedule.gp — paper Fig. 6 right: Ablation: gradient updates, reward of last-step images vs training samples, one line per
# setting. Reads fig6_schedule.csv (series,samples,reward) by column name. Variables: data, out, series, ylab (optional y label).
set datafile separator ","
set terminal pngcairo size 800,600 noenhanced font "sans,11"
set output out
set grid
set key bottom right
set style data lines
set title "Ablation: gradient updates"
set xlabel "Training samples"
set ylabel (exists("ylab") ? ylab : "Reward")
plot for [s in series] data using "samples":(strcol("series") eq s ? column("reward") : NaN) lw 2 title s
