// hitkitQuick.h — hand-written, not generated: the C declaration of the one-call send path
// (src/api/quick.rs), which the Swift package's sendScreen/sendTouch/send use. UniFFI does not
// declare it because it is a plain `extern "C"` function, not part of the UniFFI interface.
#ifndef HITKIT_QUICK_H
#define HITKIT_QUICK_H

#include <stdint.h>

/// Queues one hit on the tracker whose `Tracker.quickSendId()` is `tracker_id`. `hit_type`: 0
/// screen, 1 touch, 2 custom. `payload`: UTF-8 strings, each preceded by its byte length as a
/// u32 little-endian: the name (screen, touch) then key, value, key, value... Returns 0 when
/// queued; 1 when not done here: make the generated call, which returns the typed error.
int32_t hitkit_quick_send(int64_t tracker_id, int32_t hit_type,
                          const uint8_t *_Nullable payload, uint32_t len);

#endif
