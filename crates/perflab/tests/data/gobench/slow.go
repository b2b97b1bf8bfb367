//go:build slow

package textkit

const slow = true
const slowRepeat = 1
