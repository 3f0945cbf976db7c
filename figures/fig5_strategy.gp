# figures/fig5_strategy.gp — paper Fig. 5 left & middle: dense-reward prediction strategies,
# reward vs training samples (left) and vs compute hours (cumulative wall_s, middle).
# Reads fig5_strategy.csv (series,samples,hours,reward). Variables: data, out, series, ylab (optional y label).
set datafile separator ","
set terminal pngcairo size 1200,500 noenhanced font "sans,11"
set output out
set grid
set key bottom right
set style data lines
set multiplot layout 1,2 title "Ablation: dense reward prediction"
set xlabel "Training samples"
set ylabel (exists("ylab") ? ylab : "Reward")
plot for [s in series] data using "samples":(strcol("series") eq s ? column("reward") : NaN) lw 2 title s
set xlabel "Compute hours"
set format x "%.2g"
plot for [s in series] data using "hours":(strcol("series") eq s ? column("reward") : NaN) lw 2 title s
unset multiplot
