/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_IMG_H
#define RAEVM_IMG_H

/*
 * `raevmd img create|info|io`: disk images from the command line
 * (src/worker/img.c). argv[0] is "img". Returns the exit status: 0, or 1
 * after one line on stderr naming what was wrong.
 */
int rv_img_main(int argc, char **argv);

#endif
