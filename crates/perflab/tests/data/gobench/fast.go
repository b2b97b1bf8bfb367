//go:build !slow

package textkit

const slow = false
const slowRepeat = 0
