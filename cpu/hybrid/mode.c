/* SPDX-License-Identifier: MIT */
#include "cpu/hybrid/hybrid.h"

#include <stdio.h>
#include <string.h>

static const char *const mode_names[] = {
	[CPU_MODE_AUTO] = "auto", [CPU_MODE_EPT] = "ept", [CPU_MODE_SHADOW] = "shadow",
};

bool hybrid__parse_mode(const char *s, enum cpu_mode *out)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum cpu_mode)i;
			return true;
		}
	}
	return false;
}

const char *hybrid__mode_name(enum cpu_mode mode)
{
	return mode <= CPU_MODE_SHADOW ? mode_names[mode] : "invalid";
}

int hybrid__select_mode(enum cpu_mode requested, enum cpu_mode *out, const char **why,
			char *err, size_t errlen)
{
	switch (requested) {
	case CPU_MODE_EPT:
		*out = CPU_MODE_EPT;
		*why = "requested";
		return 0;
	case CPU_MODE_AUTO:
		/* Shadow mode does not exist yet, so there is nothing to measure against. */
		*out = CPU_MODE_EPT;
		*why = "auto: the only mode implemented so far";
		return 0;
	case CPU_MODE_SHADOW:
	default:
		snprintf(err, errlen, "--mode shadow is not implemented yet; use --mode ept or auto");
		return -1;
	}
}
