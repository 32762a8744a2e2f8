// Umbrella header: the whole public API of roofline::core. (include/roofline/roofline.hpp is the
// roofline module itself; the umbrella sits one level up so that both names of STYLE.md exist.)
#pragma once

#include "roofline/calibration.hpp"
#include "roofline/charts.hpp"
#include "roofline/dynamic_quant.hpp"
#include "roofline/engine.hpp"
#include "roofline/errors.hpp"
#include "roofline/flash_attention.hpp"
#include "roofline/hardware.hpp"
#include "roofline/html_report.hpp"
#include "roofline/io.hpp"
#include "roofline/mixed_precision.hpp"
#include "roofline/model.hpp"
#include "roofline/operators.hpp"
#include "roofline/precision.hpp"
#include "roofline/progress.hpp"
#include "roofline/report.hpp"
#include "roofline/roofline.hpp"
#include "roofline/units.hpp"
#include "roofline/workload.hpp"
