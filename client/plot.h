// memctl plot: replay histories (client/history.h) drawn as one SVG picture,
// a column per history side by side, so that two machines replaying the same
// trace can be compared. Per zone, top to bottom:
//   free blocks per order (11 lines, log(1 + x) y scale, labelled "order 9"
//     at their right ends, a sequential blue palette from order 0 to 10);
//   pageblocks per migrate type (log(1 + x), labelled, in the migrate types'
//     colours: Unmovable #d62728, Movable #2ca02c, Reclaimable #ff7f0e,
//     HighAtomic #9467bd, Isolate #bcbd22);
//   free pages (linear);
//   marks under the x axis where extfrag claims, extfrag steals and
//     allocation failures (the machine's) grew between two samples;
// then the x axis in trace events. A zone's y scales are the same in every
// column; the x scale is the same everywhere (the events of all histories).
//
// For tests, the picture states its geometry (coordinates are absolute, no
// transforms on groups):
//   each panel is <g data-panel="free_blocks|pageblocks|free_pages|marks"
//     data-column="C" data-node="N" data-zone="Z" data-x0 data-x1 (events)
//     data-px0 data-px1 (their pixels) data-y="linear|log1p" data-y0 data-y1
//     (values) data-py0 data-py1 (their pixels)>; plot_scale.h's Scale says
//     how a value maps to a pixel;
//   each line is a <polyline data-series="free_9|unmovable|...|free_pages"
//     data-node data-zone> through one point per sample (or, for more samples
//     than pixel columns, the first, last, lowest and highest of each column);
//   each mark is a <rect data-series="extfrag_claims|extfrag_steals|
//     alloc_failures" data-from="E0" data-to="E1" data-delta="D">: the
//     counter grew by D between the samples at events E0 and E1 (runs of
//     growing intervals less than 2 px apart are one mark).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "client/history.h"

namespace memd::client {

struct PlotInput {
  History history;
  std::string label;  // the column's title
};

// The picture of `inputs` (at least one) as an SVG document.
std::string render_plot(const std::vector<PlotInput>& inputs);

// memctl plot CSV... -o OUT: reads each history, titles its column with
// labels[i] (the file's base name when there are fewer labels), and writes
// the picture to `out_path` (replaced atomically). Returns memctl's exit
// status, after one line on `err` when it fails: kExitUsage for no file, more
// labels than files, a file that cannot be read or written; kExitRefused for
// a file that is not a replay history (the message names the file and line).
int plot_histories(const std::vector<std::string>& csv_paths,
                   const std::vector<std::string>& labels, const std::string& out_path,
                   std::ostream& err);

}  // namespace memd::client
