# figures/fig4.gp — paper Fig. 4 and 8–11: reward of eval images vs training epoch at each step
# count (one panel per count in `steps`), one line per method ("base" = pretrained model, a
# point at epoch 0). Reads fig4_<reward>.csv (method,epoch,reward,steps,mean) by column name.
# Variables: data, out, series (methods), steps (e.g. '1 2 4 8 16'), rewardname.
set datafile separator ","
set terminal pngcairo size 1800,520 noenhanced font "sans,11"
set output out
set grid
# the key below each panel, never over the curves (panels are narrow: two columns)
set key below horizontal maxcols 2 font ",10"
set style data linespoints
nst = words(steps)
set multiplot layout 1,nst title sprintf("Reward (%s) vs training epoch, one panel per sampling step count (%s)", rewardname, steps)
set xlabel "Training epoch"
set ylabel rewardname
do for [i=1:nst] {
    st = word(steps, i) + 0
    set title sprintf("%d step%s", st, st == 1 ? "" : "s")
    plot for [m in series] data using "epoch":((strcol("method") eq m && column("steps") == st) ? column("mean") : NaN) lw 2 pt 7 title m
}
unset multiplot
