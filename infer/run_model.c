#include <stdio.h>
int main(void) { puts("vapd-run-model"); return 0; }
