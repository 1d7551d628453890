/*
 * Inside the queue process: DKIM signing at commit (queue_dkim.c).
 */
#ifndef MAILD_QUEUE_H
#define MAILD_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "maild.h"

void	queue_dkim_init(struct maild_conf *);
void	queue_dkim_sign(int, const char *, uint32_t, char *, size_t);

#endif
