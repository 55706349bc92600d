set terminal pngcairo size 1100,520 noenhanced
set output 'throughput_ratio.png'
set title 'tern / mosquitto (best variant): delivered msgs/s, medians'
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set ylabel 'ratio (x)'
set yrange [0:*]
set xtics rotate by -30
set grid ytics
plot 'throughput_ratio.dat' using 2:xtic(1) title 'measured ratio' lc rgb '#2b7bba', '' using 0:3 with points pt 7 ps 1.5 lc rgb '#d62728' title 'target'
set output 'latency.png'
set title 'latency at a fixed rate (QoS 0, 64 B)'
set logscale y
set ylabel 'microseconds'
set yrange [*:*]
set xtics norotate ('p50' 0, 'p90' 1, 'p99' 2, 'p99.9' 3)
set xrange [-0.2:3.2]
set key outside right
plot 'latency_0.dat' using 1:2 with linespoints lw 2 pt 7 title 'tern rate-1-1@1000', 'latency_1.dat' using 1:2 with linespoints lw 2 pt 7 title 'mosquitto rate-1-1@1000', 'latency_2.dat' using 1:2 with linespoints lw 2 pt 7 title 'tern rate-1-100@1000', 'latency_3.dat' using 1:2 with linespoints lw 2 pt 7 title 'mosquitto rate-1-100@1000', 'latency_4.dat' using 1:2 with linespoints lw 2 pt 7 title 'tern rate-1-1000@100', 'latency_5.dat' using 1:2 with linespoints lw 2 pt 7 title 'mosquitto rate-1-1000@100'
