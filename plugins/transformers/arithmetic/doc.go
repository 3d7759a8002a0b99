// Command arithmetic is the "arithmetic" transformer plugin, after
// Ceilometer's ArithmeticTransformer (Pike to Rocky): an expression over
// several meters of one resource, such as $(memory.usage) / $(memory) * 100,
// evaluated once a sample of every meter it reads has come in for the
// resource within the window, giving one new sample. Operands wait at most
// window for each other; a missing operand gives no sample, and a failing
// expression (a division by zero) is counted. State is bounded and lost when
// the process restarts.
//
// It imports only the SDK and the shared internal/scale and internal/xform;
// it never imports the host.
package main
