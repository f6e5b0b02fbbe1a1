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

int hybrid__select_mode(enum cpu_mode requested, bool pv_capable, const struct cpl_measure *m,
			enum cpu_mode *out, char *why, size_t why_len)
{
	switch (requested) {
	case CPU_MODE_EPT:
		*out = CPU_MODE_EPT;
		snprintf(why, why_len, "requested");
		return 0;
	case CPU_MODE_SHADOW:
		if (!pv_capable) {
			snprintf(why, why_len, "--mode shadow needs a PV-capable kernel (an ELF note "
				 "\"L1VMM\" of type %u); this one is not", 1u);
			return -1;
		}
		*out = CPU_MODE_SHADOW;
		snprintf(why, why_len, "requested");
		return 0;
	case CPU_MODE_AUTO:
	default:
		break;
	}
	if (!m || !m->valid) {
		*out = CPU_MODE_EPT;
		snprintf(why, why_len, "auto: CPL0 speed not measured");
	} else if (m->ratio < CPL0_EMULATED_RATIO) {
		*out = CPU_MODE_EPT;
		snprintf(why, why_len, "auto: CPL0 runs at %.1fx the cost of CPL3, not emulated",
			 m->ratio);
	} else if (!pv_capable) {
		*out = CPU_MODE_EPT;
		snprintf(why, why_len, "auto: CPL0 is emulated (%.0fx slower than CPL3) but the "
			 "kernel is not PV-capable", m->ratio);
	} else {
		*out = CPU_MODE_SHADOW;
		snprintf(why, why_len, "auto: CPL0 is emulated (%.0fx slower than CPL3: %.0f ns "
			 "against %.2f ns a loop) and the kernel is PV-capable", m->ratio,
			 m->cpl0_ns_per_loop, m->cpl3_ns_per_loop);
	}
	return 0;
}
