/* OpenMP's idle policy, which libgomp reads once from the environment before main. */
#ifndef VP_OMP_H
#define VP_OMP_H

/* When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, sets GOMP_SPINCOUNT to a short
 * spin and re-executes the program once (argv as given to main). Returns if it cannot. */
void vp_omp_tune(char **argv);

#endif
