// Starts JMeter 2.13 (Debian's package) after allowing its own classes in XStream.
//
// Debian bookworm pairs JMeter 2.13 with XStream 1.4.20, whose default security forbids
// every class it does not know, so `jmeter -n -t plan.jmx` fails before the test starts:
// "ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper". This launcher loads
// JMeter's properties, then JMeter's SaveService, grants its two XStream instances (test
// plan and results) every type, and hands over to JMeter's own main class with the same
// arguments. Nothing in JMeter's measuring or result writing is changed.
import java.lang.reflect.Field;
import java.lang.reflect.Method;

import com.thoughtworks.xstream.XStream;
import com.thoughtworks.xstream.security.AnyTypePermission;

public final class AllowJmx {
    public static void main(String[] args) throws Exception {
        String home = System.getProperty("jmeter.home", "/usr/share/jmeter");
        Class<?> newDriver = Class.forName("org.apache.jmeter.NewDriver");
        Field loaderField = newDriver.getDeclaredField("loader");
        loaderField.setAccessible(true);
        ClassLoader loader = (ClassLoader) loaderField.get(null);
        Thread.currentThread().setContextClassLoader(loader);

        Class<?> utils = Class.forName("org.apache.jmeter.util.JMeterUtils", true, loader);
        utils.getMethod("setJMeterHome", String.class).invoke(null, home);
        utils.getMethod("loadJMeterProperties", String.class)
             .invoke(null, home + "/bin/jmeter.properties");

        Class<?> saveService = Class.forName("org.apache.jmeter.save.SaveService", true, loader);
        for (String name : new String[] {"JMXSAVER", "JTLSAVER"}) {
            Field field = saveService.getDeclaredField(name);
            field.setAccessible(true);
            ((XStream) field.get(null)).addPermission(AnyTypePermission.ANY);
        }
        Method main = newDriver.getMethod("main", String[].class);
        main.invoke(null, (Object) args);
    }
}
