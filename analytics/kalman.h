/* The constant-velocity Kalman filter of deep_sort as ByteTrack uses it
 * (yolox/tracker/kalman_filter.py): state (cx, cy, a, h, vcx, vcy, va, vh), measurement
 * (cx, cy, a, h) with a = w / h, noise proportional to the box height. Double precision,
 * covariances row-major 8x8. Internal to analytics/. */
#ifndef AN_KALMAN_H
#define AN_KALMAN_H

/* A new track's state from its first measurement: velocities 0, diagonal covariance. */
void an_kf_initiate(const double z[4], double mean[8], double cov[64]);

/* Advances the state by dt frame periods (dt > 0). dt == 1 is the official predict step
 * operation for operation; for other dt the transition has dt in its velocity terms and
 * the motion noise variances are scaled by dt (noise accumulates per elapsed period). */
void an_kf_predict(double mean[8], double cov[64], double dt);

/* Corrects the state with measurement z (cx, cy, a, h). */
void an_kf_update(double mean[8], double cov[64], const double z[4]);

#endif
