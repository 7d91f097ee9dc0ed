package record

// For the tests of package record_test, which may import packages that
// import record (the stream defaults of pkg/streams).
const ChildEnv = childEnv

var CheckRecordings = checkRecordings
