# figures/fig3.gp — paper Fig. 3: learning curves, reward of the last step's images vs training
# samples, one line per method. Reads fig3.csv (method,series,samples,reward) by column name.
# Variables (gnuplot -e): data, out, series (space-separated series names), ylab (optional).
set datafile separator ","
set terminal pngcairo size 800,600 noenhanced font "sans,11"
set output out
set grid
set key bottom right
set style data lines
set title "Learning curves (reward of last-step images)"
set xlabel "Training samples"
set ylabel (exists("ylab") ? ylab : "Reward")
plot for [s in series] data using "samples":(strcol("series") eq s ? column("reward") : NaN) lw 2 title s
